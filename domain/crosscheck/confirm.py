"""Confirming a saved cross-check: nothing opens until a coordinator confirms the children of a bucket.

A roster pupil of bucket `absent` (在籍不在校) without an open case gets one, opened as suspected through
the same path as an absence or the roll call (owner, next dated step, reminders); one with an open case
gets only the evidence. A child of bucket `out_of_school` (on no roll, school-age) placed in a village
gets a suspected 失学 case (domain.school_age.out_of_school: owned by the township, visited by the village cadre). Either way the case's timeline gains a "crosscheck_match" entry: the run, its
day, the lists and rows the child was found in, the record status and the reason code, never a name.

Each child is claimed before anything is done (storage.crosscheck_runs.claim), so a form sent twice, or
by two people at once, confirms every child once. A confirmation handles at most BATCH children: on
SQLite one long write would hold up the bot, so the page offers the rest again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import AbsenceReport, add_event, report_absence
from domain.errors import InvalidInput
from domain.policy import Policy
from domain.privacy.pii_text import refuse_identifiers
from domain.school_age.out_of_school import OutOfSchoolChild, open_out_of_school_case
from storage import crosscheck_runs as store
from storage.crosscheck_runs import ChildFilter
from storage.models import Case, CrosscheckChild, CrosscheckRun
from storage.scope import Scope
from storage.uow import UnitOfWork

BATCH = 200
MAX_NOTE = 200
CONFIRMABLE = ("absent", "out_of_school")


@dataclass
class Confirmed:
    """What one confirmation did, as counts (the audit entry holds the same)."""

    opened: int = 0  # cases opened (or reopened) as suspected
    evidence: int = 0  # evidence added to an open case
    taken: int = 0  # decided meanwhile by another request
    refused: int = 0  # 失学: the case rules refused the child (the reason is on its row)
    no_pupil: int = 0  # absent by the record only, on no roster here: resolve by hand or set aside
    no_village: int = 0  # 失学: no village told by the addresses: place the child first
    remaining: int = 0  # still undecided in the selection (the next batch)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def evidence(run: CrosscheckRun, child: CrosscheckChild, tz: ZoneInfo) -> dict[str, Any]:
    """The timeline entry's data: where the child was found, never who they are."""
    detail = child.detail or {}
    lists = [f"{source}#{row}" for source, row in detail.get("sources", [])]
    lists += ["roster"] * len(detail.get("roster", []))
    return {
        "run_id": run.id,
        "run_on": run.created_at.astimezone(tz).date().isoformat(),
        "lists": lists,
        "record_status": child.record_status,
        "crosscheck_reason": child.reason,
    }


async def _confirm_absent(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    run: CrosscheckRun,
    child: CrosscheckChild,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> str:
    """Opens (or reuses) the pupil's case and adds the evidence; returns the decision."""
    assert child.student_id is not None
    case: Case | None = await uow.cases.open_for_student(child.student_id)
    decision = "evidence"
    if case is None:
        # Found on the day the lists were compared (a report may go back a year at most); suspected at
        # once, like the roll call's.
        today = now.astimezone(tz).date()
        found_on = max(run.created_at.astimezone(tz).date(), today - timedelta(days=365))
        report = AbsenceReport(student_id=child.student_id, absent_since=found_on, suspected=True)
        case, _created = await report_absence(uow, scope, actor, report, now=now, policy=policy, tz=tz)
        decision = "opened"
    await _add_evidence(uow, actor, run, child, case, decision, now=now, tz=tz)
    return decision


async def _add_evidence(
    uow: UnitOfWork,
    actor: Actor,
    run: CrosscheckRun,
    child: CrosscheckChild,
    case: Case,
    decision: str,
    *,
    now: datetime,
    tz: ZoneInfo,
) -> None:
    """The "crosscheck_match" entry on the case's timeline, and the child decided with its case."""
    add_event(uow, case, "crosscheck_match", actor, now, **evidence(run, child, tz))
    case.updated_at = now
    await store.record_decision(uow.session, child.id, decision, case.id, None)


def _sex(child: CrosscheckChild) -> str | None:
    """M or F: as the list gave it, else from the ID number's 17th digit (odd: male, GB 11643)."""
    if child.sex in ("M", "F"):
        return child.sex
    number = child.national_id or ""
    if len(number) == 18 and number[16].isdigit():
        return "M" if int(number[16]) % 2 else "F"
    return None


async def _confirm_out_of_school(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    run: CrosscheckRun,
    child: CrosscheckChild,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> str:
    """Opens a suspected 失学 case for a child on no roll (placed in a village), or adds the evidence to
    the child's open one; a child the case rules refuse is decided "refused" with the reason's code, so
    the coordinator sees why on the page (it is never silently dropped)."""
    assert child.village_id is not None
    found = await uow.students.with_national_id(child.national_id) if child.national_id else []
    for student in found:
        if (case := await uow.cases.open_for_student(student.id)) is not None:
            await _add_evidence(uow, actor, run, child, case, "evidence", now=now, tz=tz)
            return "evidence"
    sex = _sex(child)
    ready = sex is not None and child.birth_date is not None
    refusal: str | None = None if ready else "crosscheck.error.sex_or_birth"
    params: dict[str, str] = {}
    if refusal is None:
        assert sex is not None and child.birth_date is not None
        details = OutOfSchoolChild(
            name=child.name,
            sex=sex,
            birth_date=child.birth_date,
            national_id=child.national_id,
            village_id=child.village_id,
            registered_address=child.registered_address,
            current_address=child.current_address,
        )
        try:
            case = await open_out_of_school_case(
                uow,
                actor,
                details,
                now=now,
                policy=policy,
                tz=tz,
                evidence=evidence(run, child, tz),
                scope=scope,
            )
        except InvalidInput as exc:
            refusal, params = exc.code, {k: str(v) for k, v in exc.params.items()}
        else:
            await store.record_decision(uow.session, child.id, "opened", case.id, None)
            return "opened"
    # The catalog key of the refusal and its parameters (ages, a case number; never a name).
    detail = {**(child.detail or {}), "refused": refusal, "refused_params": params}
    await store.record_decision(uow.session, child.id, "refused", None, detail)
    return "refused"


async def confirm(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    run: CrosscheckRun,
    flt: ChildFilter,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> Confirmed:
    """Confirms the undecided children of the filtered selection of `run` (its bucket must be set and
    confirmable), at most BATCH of them; the caller commits."""
    if flt.bucket not in CONFIRMABLE:
        raise InvalidInput("crosscheck.error.confirm_bucket")
    session = uow.session
    result = Confirmed()
    pupils, placed = (True, None) if flt.bucket == "absent" else (None, True)
    for child in await store.selection(session, run.id, flt, BATCH, pupils=pupils, placed=placed):
        if not await store.claim(session, child.id, now, actor.staff_id):
            result.taken += 1
            continue
        if flt.bucket == "absent":
            decision = await _confirm_absent(uow, scope, actor, run, child, now=now, policy=policy, tz=tz)
        else:
            decision = await _confirm_out_of_school(
                uow, scope, actor, run, child, now=now, policy=policy, tz=tz
            )
        setattr(result, decision, getattr(result, decision) + 1)
    await uow.flush()
    if flt.bucket == "absent":
        result.no_pupil = await store.undecided(session, run.id, flt, pupils=False)
    else:
        result.no_village = await store.undecided(session, run.id, flt, placed=False)
    result.remaining = await store.undecided(session, run.id, flt, pupils=pupils, placed=placed)
    audit(
        uow, actor, now, "crosscheck_confirm", "crosscheck_run", run.id, bucket=flt.bucket, **result.as_dict()
    )
    return result


async def place_child(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    run: CrosscheckRun,
    child_id: int,
    village_id: int,
    *,
    now: datetime,
) -> None:
    """Puts a child whose village the addresses did not tell into a village of the viewer's area, so a
    失学 case can be opened for it (its cadre visits). The caller commits."""
    found = await store.child(uow.session, child_id)
    if found is None or found.run_id != run.id:
        raise InvalidInput("crosscheck.error.no_child")
    area = await uow.directory.area(village_id)
    if area is None or area.level != "village" or not (scope.everything or village_id in scope.village_ids):
        raise InvalidInput("crosscheck.error.not_a_village")
    if not await store.place(uow.session, child_id, village_id):
        raise InvalidInput("crosscheck.error.already_decided")
    audit(uow, actor, now, "update", "crosscheck_child", child_id, village_id=village_id)


async def set_aside(
    uow: UnitOfWork, actor: Actor, run: CrosscheckRun, child_id: int, note: str, *, now: datetime
) -> None:
    """搁置: the child is decided without a case (resolved by hand, a known error), with a short note
    that may hold neither an ID nor a phone number. The caller commits."""
    text = note.strip()
    if not text:
        raise InvalidInput("crosscheck.error.note_required")
    if len(text) > MAX_NOTE:
        raise InvalidInput("crosscheck.error.note_long", limit=MAX_NOTE)
    try:
        refuse_identifiers(text)
    except InvalidInput:
        raise InvalidInput("crosscheck.error.note_identifiers") from None
    child = await store.child(uow.session, child_id)
    if child is None or child.run_id != run.id:
        raise InvalidInput("crosscheck.error.no_child")
    if not await store.claim(uow.session, child.id, now, actor.staff_id):
        raise InvalidInput("crosscheck.error.already_decided")
    await store.record_decision(
        uow.session, child.id, "set_aside", None, {**(child.detail or {}), "note": text}
    )
    audit(uow, actor, now, "crosscheck_set_aside", "crosscheck_child", child.id, bucket=child.bucket)
