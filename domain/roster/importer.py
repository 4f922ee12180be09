"""Roster import: areas, schools, classes, staff and pupils from .xlsx/.csv files, all or nothing.

Format: docs/roster.md. Pipeline: roster_files (read) -> roster_parse (cells, in-file checks)
-> roster_resolve (references against the database) -> roster_write / roster_students (one transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from domain.audit import Actor
from domain.roster.format import ImportSummary, RosterData, RosterInvalid, RosterProblem, RosterUnreadable
from domain.roster.parse import duplicate_problems, parse_roster
from domain.roster.resolve import load_snapshot, reference_problems
from domain.roster.students import write_students
from domain.roster.template import write_template
from domain.roster.write import RosterWriter
from storage.uow import UnitOfWork

__all__ = [
    "ImportSummary",
    "RosterData",
    "RosterInvalid",
    "RosterProblem",
    "RosterUnreadable",
    "apply_roster",
    "import_roster",
    "read_roster",
    "write_template",
]

Progress = Callable[[str, int, int], None]


def _ordered(problems: list[RosterProblem]) -> list[RosterProblem]:
    """Grouped by sheet in the order sheets were met, then by row, so the list reads like the file."""
    first: dict[str, int] = {}
    for p in problems:
        first.setdefault(p.sheet, len(first))
    return sorted(problems, key=lambda p: (first[p.sheet], p.row))


def read_roster(
    paths: Sequence[Path], *, today: date | None = None, progress: Progress | None = None
) -> RosterData:
    """Parses and checks the files without a database; raises RosterInvalid listing every problem."""
    data, problems = parse_roster(paths, today=today or date.today(), progress=progress)
    problems += duplicate_problems(data)
    if problems:
        raise RosterInvalid(_ordered(problems))
    return data


async def apply_roster(
    uow: UnitOfWork,
    data: RosterData,
    *,
    now: datetime,
    actor: Actor,
    progress: Progress | None = None,
    problems: Sequence[RosterProblem] = (),
    account_channel: str | None = None,
) -> ImportSummary:
    """Checks `data` against the database and writes it in `uow` (the caller commits).
    Raises RosterInvalid, before writing anything, if it or `problems` holds any problem (an account
    already bound to someone else is found while writing: the caller then must not commit).
    `account_channel`: the chat channel whose accounts the staff sheet's account column names."""
    snap = await load_snapshot(uow)
    found = [*problems, *duplicate_problems(data), *reference_problems(data, snap)]
    if found:
        raise RosterInvalid(_ordered(found))
    writer = RosterWriter(
        uow, data, snap, now=now, actor=actor, progress=progress, account_channel=account_channel
    )
    await writer.write_directory()
    await write_students(writer)
    return await writer.finish()


async def import_roster(
    uow_factory: Callable[[], UnitOfWork],
    paths: Sequence[Path],
    *,
    now: datetime,
    actor: Actor,
    progress: Progress | None = None,
    account_channel: str | None = None,
) -> ImportSummary:
    """Imports the files as one transaction: everything is written, or (RosterInvalid) nothing."""
    data, problems = parse_roster(paths, today=now.date(), progress=progress)
    async with uow_factory() as uow:
        summary = await apply_roster(
            uow,
            data,
            now=now,
            actor=actor,
            progress=progress,
            problems=problems,
            account_channel=account_channel,
        )
        await uow.commit()
    return summary
