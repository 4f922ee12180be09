"""Saving a cross-check for a county: one run and one row per child, compared with the county's
previous run by key (new, changed, same; the previous run's children missing now are "gone").

Nothing opens here: a saved run is a proposal a coordinator reviews and confirms
(domain.crosscheck.confirm)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.audit import Actor, audit
from domain.crosscheck.buckets import AgeRule
from domain.crosscheck.files import ChildRow, InputFile
from domain.crosscheck.match import match
from domain.crosscheck.proposal import Entry, Proposal, build_proposal
from domain.crosscheck.villages import Village, VillageFinder
from domain.errors import InvalidInput
from domain.people.scope import AreaTree, area_tree
from storage import crosscheck_runs as store
from storage.crosscheck_queries import RosterPupil, roster_pupils, roster_schools
from storage.models import CrosscheckRun
from storage.uow import UnitOfWork

CHANGES = ("new", "changed", "same", "gone")
_SEX = {"男": "M", "女": "F", "M": "M", "F": "F", "MALE": "M", "FEMALE": "F"}
MAX_CANDIDATES = 10


@dataclass(frozen=True)
class SavedRun:
    id: int
    counts: dict[str, int]


def propose(
    inputs: dict[str, InputFile], pupils: Sequence[RosterPupil], schools: frozenset[str], ages: AgeRule
) -> Proposal:
    """The engine on files already read: join, classify (CPU only; the web runs it in a thread)."""
    empty: list[ChildRow] = []
    people = match(
        inputs["population"].rows,
        inputs["registry"].rows,
        pupils,
        inputs["poverty"].rows if "poverty" in inputs else empty,
        inputs["disabled"].rows if "disabled" in inputs else empty,
    )
    return build_proposal(people, ages, schools)


def sources_of(inputs: dict[str, InputFile], names: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What the run read, per list: the file's name and row counts (no content)."""
    return {
        key: {"file": names.get(key, ""), "rows": len(file.rows), "skipped": file.skipped}
        for key, file in inputs.items()
    }


class Places:
    """The county's villages (found in addresses) and schools (by code or name)."""

    def __init__(self, tree: AreaTree, areas: dict[int, Any], schools: Sequence[Any], county_id: int) -> None:
        inside = tree.subtree(county_id)
        villages = [
            Village(a.id, a.name, areas[a.parent_id].name if a.parent_id in areas else "")
            for a in areas.values()
            if a.id in inside and a.level == "village"
        ]
        self.villages = VillageFinder(villages)
        self.schools: dict[str, int] = {}
        for school in schools:
            if school.area_id in inside:
                self.schools.setdefault(school.code, school.id)
                self.schools.setdefault(school.name, school.id)


async def places_of(uow: UnitOfWork, county_id: int) -> Places:
    areas = await store.areas(uow.session)
    schools = await store.schools(uow.session)
    return Places(AreaTree.of(areas, schools), {a.id: a for a in areas}, schools, county_id)


async def county_for(uow: UnitOfWork, code: str | None) -> int:
    """The county a run is saved for: the one with `code`, else the only county in the database.
    InvalidInput (crosscheck.error.county_*) when that does not name exactly one."""
    found = await store.counties(uow.session)
    if code is not None:
        chosen = [a for a in found if a.code == code]
        if not chosen:
            raise InvalidInput("crosscheck.error.county_unknown", county=code)
        return chosen[0].id
    if not found:
        raise InvalidInput("crosscheck.error.county_none")
    if len(found) > 1:
        raise InvalidInput("crosscheck.error.county_several", codes="、".join(a.code for a in found))
    return found[0].id


async def roster_of(uow: UnitOfWork, county_id: int) -> tuple[list[RosterPupil], frozenset[str]]:
    """The county's roster pupils and school names and codes: a run compares one county's lists."""
    school_ids = (await area_tree(uow)).scope_under(0, county_id).school_ids
    return await roster_pupils(uow.session, school_ids), await roster_schools(uow.session, school_ids)


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


def child_values(run_id: int, entry: Entry, change: str, places: Places) -> dict[str, Any]:
    """One crosscheck_children row of an entry: who (as the lists give it), where, and why."""
    person, verdict = entry.person, entry.verdict
    first = person.first()
    pupil = person.pupils[0] if person.pupils else None
    record = person.registry[0] if person.registry else None
    current = next((r.current_address for r in person.population if r.current_address), None)
    registered = next((r.registered_address for r in person.population if r.registered_address), None)
    sex = next((r.sex for r in person.population if r.sex), None)
    school_id = places.schools.get(record.school or "") if record else None
    if school_id is None and pupil is not None:
        school_id = pupil.school_id
    village_id = pupil.home_village_id if pupil is not None else None
    disabled = person.disabled
    return {
        "run_id": run_id,
        "key": entry.key[:24],
        "bucket": verdict.bucket,
        "reason": verdict.reason[:48],
        "params": dict(verdict.params),
        "change": change,
        "confidence": person.confidence if person.method else None,
        "method": person.method[:16] or None,
        "name": ((first.name if first else None) or (pupil.name if pupil else "") or "")[:50],
        "national_id": min(person.national_ids(), default=None),
        "birth_date": (first.birth_date if first else None) or (pupil.birth_date if pupil else None),
        "sex": _SEX.get((sex or "").strip().upper()),
        "registered_address": _cut(registered, 200),
        "current_address": _cut(current, 200),
        "village_id": village_id or places.villages.village_of(current, registered),
        "school_id": school_id,
        "school_label": _cut(record.school if record else pupil.school_name if pupil else None, 100),
        "student_number": _cut(record.number if record else pupil.number if pupil else None, 32),
        "record_status": _cut(record.status if record else None, 16),
        "student_id": pupil.id if pupil else None,
        "poverty": person.poverty,
        "disability": " ".join(x for x in (disabled.disability_type, disabled.disability_grade) if x)[:40]
        if disabled
        else None,
        "detail": {
            "sources": [[r.source, r.row] for r in person.rows()],
            "roster": [p.number for p in person.pupils],
            "conflicts": list(person.conflicts),
            "candidates": [[c.name, c.school, c.number] for c in person.candidates[:MAX_CANDIDATES]],
        },
        "decided_at": None,
        "decided_by_id": None,
        "decision": None,
        "case_id": None,
    }


async def save_run(
    uow: UnitOfWork,
    actor: Actor,
    proposal: Proposal,
    *,
    county_id: int,
    sources: dict[str, dict[str, Any]],
    now: datetime,
) -> SavedRun:
    """Saves the proposal as the county's latest run (caller commits); audited with counts only."""
    session = uow.session
    previous = await store.latest_run(session, county_id)
    before = await store.verdicts(session, previous.id) if previous else {}
    places = await places_of(uow, county_id)
    run = CrosscheckRun(
        area_id=county_id,
        created_at=now,
        created_by_id=actor.staff_id,
        cutoff=proposal.ages.cutoff,
        sources=sources,
        counts={},
        previous_id=previous.id if previous else None,
    )
    run_id = await store.add_run(session, run)
    rows: list[dict[str, Any]] = []
    changes: Counter[str] = Counter()
    for entry in proposal.entries:
        was = before.get(entry.key)
        verdict = (entry.verdict.bucket, entry.verdict.reason)
        change = "new" if was is None else "same" if was == verdict else "changed"
        changes[change] += 1
        rows.append(child_values(run_id, entry, change, places))
        if len(rows) >= store.CHUNK:  # inserted as built: 150 000 row dicts never sit in memory at once
            await store.insert_children(session, rows)
            rows = []
    await store.insert_children(session, rows)
    changes["gone"] = len(before.keys() - {e.key for e in proposal.entries})
    counts = {**proposal.counts(), **{k: changes.get(k, 0) for k in CHANGES}}
    run.counts = counts
    audit(uow, actor, now, "crosscheck_save", "crosscheck_run", run_id, **counts)
    await uow.flush()
    return SavedRun(run_id, counts)
