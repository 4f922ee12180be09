"""Confirming a saved cross-check: nothing opens until a coordinator confirms the children of a bucket.

A roster pupil of bucket `absent` (在籍不在校) without an open case gets one, opened as suspected through
the same path as an absence or the roll call (owner, next dated step, reminders); one with an open case
gets only the evidence. Either way the case's timeline gains a "crosscheck_match" entry: the run, its
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
from domain.cases import AbsenceReport, add_event, report_absence
from domain.errors import InvalidInput
from domain.pii_text import refuse_identifiers
from domain.policy import Policy
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
    no_pupil: int = 0  # absent by the record only, on no roster here: resolve by hand or set aside
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
    add_event(uow, case, "crosscheck_match", actor, now, **evidence(run, child, tz))
    case.updated_at = now
    await store.record_decision(uow.session, child.id, decision, case.id, None)
    return decision


async def _confirm_out_of_school(uow: UnitOfWork, actor: Actor, run: CrosscheckRun, flt: ChildFilter) -> None:
    """失学 (children on no roll): their case kind comes with domain.out_of_school, not here yet. The
    wiring: per child, claim it, build an OutOfSchoolChild from the row, call open_out_of_school_case
    with evidence(run, child, tz), then record_decision(..., "opened", case.id)."""
    raise InvalidInput("crosscheck.error.out_of_school_not_available")


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
    if flt.bucket == "out_of_school":
        await _confirm_out_of_school(uow, actor, run, flt)
    if flt.bucket != "absent":
        raise InvalidInput("crosscheck.error.confirm_bucket")
    session = uow.session
    result = Confirmed()
    for child in await store.selection(session, run.id, flt, BATCH, pupils=True):
        if not await store.claim(session, child.id, now, actor.staff_id):
            result.taken += 1
            continue
        decision = await _confirm_absent(uow, scope, actor, run, child, now=now, policy=policy, tz=tz)
        if decision == "opened":
            result.opened += 1
        else:
            result.evidence += 1
    await uow.flush()
    result.no_pupil = await store.undecided(session, run.id, flt, pupils=False)
    result.remaining = await store.undecided(session, run.id, flt, pupils=True)
    audit(
        uow, actor, now, "crosscheck_confirm", "crosscheck_run", run.id, bucket=flt.bucket, **result.as_dict()
    )
    return result


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
