"""The retention job (PIPL art. 47): what is past the policy's [data_retention] limits is anonymised or
deleted, photos' files included. Run daily by the scheduler's leader and by `notoneless retention run`.
Reasons for each limit: docs/retention.md."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.privacy.erasure import Removed, anonymise_cases, anonymise_student, delete_files, remove_photos
from domain.privacy.retention_policy import DataRetention
from storage import crosscheck_runs
from storage.models import Student
from storage.retention import AGED_TABLES, RetentionQueries, attachment_keys
from storage.uow import UnitOfWorkFactory

BATCH = 200
MAX_BATCHES = 500  # 100,000 rows a run; the rest waits for the next day


class SweepableMedia(Protocol):
    async def delete(self, key: str) -> bool: ...

    async def keys_older_than(self, before: float) -> list[str]: ...


@dataclass
class RetentionCounts:
    """How many of each were anonymised or deleted (or would be, in a dry run)."""

    cases: int = 0
    students: int = 0
    case_photos: int = 0
    draft_photos: int = 0
    files: int = 0
    stray_files: int = 0
    audit_entries: int = 0
    processed_updates: int = 0
    inbox_updates: int = 0
    crosscheck_children: int = 0  # of runs past the latest `crosscheck_runs` of their county

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def years_before(moment: datetime, years: int) -> datetime:
    """The same moment `years` calendar years earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def born_on_or_before(today: date, age: int) -> date:
    """The latest birth date of a child who has reached `age` by `today`."""
    try:
        return today.replace(year=today.year - age)
    except ValueError:
        return today.replace(year=today.year - age, day=28)


async def run_retention(
    uow: UnitOfWorkFactory,
    media: SweepableMedia,
    rules: DataRetention,
    *,
    now: datetime,
    tz: ZoneInfo,
    dry_run: bool = False,
) -> RetentionCounts:
    """Anonymises ended cases past the limit (and their students once every case is), deletes draft
    photos, stray files, old audit entries and chat update rows; returns the counts."""
    counts = RetentionCounts()
    ended_before = years_before(now, rules.closed_case_years)
    born = born_on_or_before(now.astimezone(tz).date(), rules.past_age)
    if dry_run:
        await _count_cases(uow, counts, ended_before, born)
    else:
        await _anonymise_cases(uow, media, counts, now, ended_before, born)
    await _draft_photos(uow, media, counts, now - rules.draft_photos, dry_run)
    await _aged_rows(uow, counts, rules, now, dry_run)
    await _stray_files(uow, media, counts, now - rules.draft_photos, dry_run)
    await _crosscheck_children(uow, counts, rules.crosscheck_runs, dry_run)
    if not dry_run and any(counts.as_dict().values()):
        async with uow() as unit:
            audit(unit, Actor.system("retention"), now, "retention", "system", None, **counts.as_dict())
            await unit.commit()
    return counts


async def _count_cases(
    uow: UnitOfWorkFactory, counts: RetentionCounts, ended_before: datetime, born: date
) -> None:
    async with uow() as unit:
        q = RetentionQueries(unit.session)
        ids = set(await q.ended_cases_due(ended_before, born, limit=BATCH * MAX_BATCHES))
        cases = await q.cases(ids)
        counts.cases = len(cases)
        counts.case_photos = len(await q.attachments_of_cases(ids))
        for student_id in {c.student_id for c in cases}:
            others = await q.cases_of_student(student_id)
            student = await unit.session.get(Student, student_id)
            if (
                student
                and student.anonymised_at is None
                and all(c.id in ids or c.anonymised_at for c in others)
            ):
                counts.students += 1


async def _anonymise_cases(
    uow: UnitOfWorkFactory,
    media: SweepableMedia,
    counts: RetentionCounts,
    now: datetime,
    ended_before: datetime,
    born: date,
) -> None:
    for _ in range(MAX_BATCHES):
        removed = Removed()
        async with uow() as unit:
            q = RetentionQueries(unit.session)
            cases = await q.cases(await q.ended_cases_due(ended_before, born, limit=BATCH))
            if not cases:
                return
            await anonymise_cases(unit, cases, now, removed)
            await unit.flush()
            for student_id in await q.students_fully_anonymised({c.student_id for c in cases}):
                student = await unit.session.get(Student, student_id)
                if student is not None:
                    await anonymise_student(unit, student, now, removed)
            await unit.commit()
        counts.cases += removed.cases
        counts.students += removed.students
        counts.case_photos += removed.photos
        counts.files += await delete_files(media, removed.files)


async def _draft_photos(
    uow: UnitOfWorkFactory, media: SweepableMedia, counts: RetentionCounts, before: datetime, dry_run: bool
) -> None:
    after_id = 0
    for _ in range(MAX_BATCHES):
        removed = Removed()
        async with uow() as unit:
            q = RetentionQueries(unit.session)
            rows, last_id = await q.draft_photos_due(before, BATCH, after_id)
            if last_id is None:
                return
            after_id = last_id
            if dry_run:
                keys = attachment_keys(rows)
                counts.draft_photos += len(rows)
                counts.files += len(keys - await q.keys_in_use(keys, besides={a.id for a in rows}))
                continue
            await remove_photos(unit, rows, removed)
            await unit.commit()
        counts.draft_photos += removed.photos
        counts.files += await delete_files(media, removed.files)


async def _aged_rows(
    uow: UnitOfWorkFactory, counts: RetentionCounts, rules: DataRetention, now: datetime, dry_run: bool
) -> None:
    limits = {
        "audit_entries": years_before(now, rules.audit_years),
        "processed_updates": now - rules.processed_updates,
        "inbox_updates": now - rules.inbox,
    }
    async with uow() as unit:
        q = RetentionQueries(unit.session)
        for name, column in AGED_TABLES.items():
            setattr(counts, name, await q.older_than(column, limits[name], remove=not dry_run))
        await unit.commit()


async def _crosscheck_children(
    uow: UnitOfWorkFactory, counts: RetentionCounts, keep: int, dry_run: bool
) -> None:
    """Children of cross-check runs older than a county's latest `keep`: deleted, or, when a case was
    opened or evidenced from them, stripped of name, ID number, birth date and addresses (the case's
    timeline holds the evidence; the row keeps bucket, decision and case for the record). One run per
    transaction, so a county's 150 000 rows never make one long lock."""
    async with uow() as unit:
        runs = await crosscheck_runs.runs_past(unit.session, keep)
    for run_id in runs:
        async with uow() as unit:
            counts.crosscheck_children += await crosscheck_runs.clear_old_children(
                unit.session, [run_id], remove=not dry_run
            )
            await unit.commit()


async def _stray_files(
    uow: UnitOfWorkFactory, media: SweepableMedia, counts: RetentionCounts, before: datetime, dry_run: bool
) -> None:
    """Files no row names, older than the draft grace (an upload still in flight has put its files
    but not yet committed its row)."""
    keys = await media.keys_older_than(before.timestamp())
    for start in range(0, len(keys), 500):
        batch = set(keys[start : start + 500])
        async with uow() as unit:
            unused = batch - await RetentionQueries(unit.session).keys_in_use(batch)
        counts.stray_files += len(unused) if dry_run else await delete_files(media, unused)
