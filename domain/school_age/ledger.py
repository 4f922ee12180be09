"""适龄儿童台账 as figures (per county, township and village, for the overview and the summary sheet) and
as an export: .xlsx with a summary sheet and the list of children, or the list alone as CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.crosscheck.buckets import AgeRule
from domain.errors import DomainError
from domain.privacy.identity import mask_id, mask_name, mask_student_number
from domain.reports.ledger_text import LEDGER_LANGUAGE
from domain.reports.sheets import Column, Sheet, write_csv, write_xlsx
from domain.school_age.status import STATUSES, Tally, child_status, percent
from i18n import t
from storage import school_age as store
from storage.models import Area, School
from storage.scope import Scope
from storage.uow import UnitOfWork

FORMATS = ("xlsx", "csv")
MAX_DEPTH = 8  # levels walked up the area tree to find a county: a bound, never reached


class NoCrosscheckSaved(DomainError):
    """No cross-check of the person's county has been saved yet: there is no ledger to show."""


@dataclass(frozen=True)
class CountyRun:
    """The run a county's ledger comes from: "as of the cross-check of …"."""

    county_id: int
    county: str
    run_id: int
    created_at: datetime
    cutoff: date


@dataclass(frozen=True)
class AreaRow:
    level: str  # county | total | township | village | not_placed
    township: str
    village: str
    tally: Tally


@dataclass
class LedgerFigures:
    runs: list[CountyRun]
    areas: dict[int, Area] = field(repr=False)
    rows: list[AreaRow] = field(default_factory=list)
    total: Tally = field(default_factory=Tally)


def counties_in_view(scope: Scope, areas: Sequence[Area], schools: Sequence[School]) -> set[int] | None:
    """The counties whose ledger the person looks at (None: every county): those above (or equal to) the
    areas, villages and schools of their scope. A teacher's classes name none."""
    if scope.everything:
        return None
    parent = {a.id: a.parent_id for a in areas}
    level = {a.id: a.level for a in areas}
    starts = {*scope.village_ids, *scope.area_ids, *(s.area_id for s in schools if s.id in scope.school_ids)}
    found = set()
    for start in starts:
        area: int | None = start
        for _ in range(MAX_DEPTH):
            if area is None:
                break
            if level.get(area) == "county":
                found.add(area)
                break
            area = parent.get(area)
    return found


async def _runs(uow: UnitOfWork, scope: Scope) -> tuple[list[CountyRun], dict[int, Area]]:
    areas = await uow.directory.areas()
    counties = counties_in_view(scope, areas, await uow.directory.schools())
    by_id = {a.id: a for a in areas}
    latest = await store.latest_runs(uow.session, counties)
    if not latest:
        raise NoCrosscheckSaved()
    runs = [
        CountyRun(r.county_id, by_id[r.county_id].name, r.id, r.created_at, r.cutoff)
        for r in latest
        if r.county_id in by_id
    ]
    return runs, by_id


def _sees_county(scope: Scope, county_id: int) -> bool:
    return scope.everything or county_id in scope.area_ids


def _area_rows(
    scope: Scope, run: CountyRun, areas: dict[int, Area], villages: dict[int | None, Tally]
) -> list[AreaRow]:
    """The county (or, for a viewer who sees part of it, their total) first, then each township followed
    by its villages, then the children not placed in a village."""
    townships: dict[int, dict[int, Tally]] = {}
    for village_id, tally in villages.items():
        if village_id is None:
            continue
        area = areas.get(village_id)
        if area is not None and area.level == "village" and area.parent_id is not None:
            townships.setdefault(area.parent_id, {})[village_id] = tally
        else:  # placed at a township (or an area the tree does not know): counted there, no village row
            townships.setdefault(village_id, {})[0] = tally

    def name(area_id: int) -> str:
        return areas[area_id].name if area_id in areas else f"#{area_id}"

    def code(area_id: int) -> str:
        return areas[area_id].code if area_id in areas else ""

    county = Tally().merge(villages.values())
    top = "county" if _sees_county(scope, run.county_id) else "total"
    rows = [AreaRow(top, run.county if top == "county" else "", "", county)]
    for township_id in sorted(townships, key=code):
        own = townships[township_id]
        rows.append(AreaRow("township", name(township_id), "", Tally().merge(own.values())))
        for village_id in sorted((v for v in own if v), key=code):
            rows.append(AreaRow("village", name(township_id), name(village_id), own[village_id]))
    if None in villages:
        rows.append(AreaRow("not_placed", "", "", villages[None]))
    return rows


async def ledger_figures(uow: UnitOfWork, scope: Scope, *, now: datetime, tz: ZoneInfo) -> LedgerFigures:
    """The ledger's figures for what the person sees, from their county's latest saved cross-check (each
    county's, for an administrator). Raises NoCrosscheckSaved when there is none."""
    runs, areas = await _runs(uow, scope)
    latest = [store.LatestRun(r.run_id, r.county_id, r.created_at, r.cutoff) for r in runs]
    groups = await store.status_groups(uow.session, scope, latest, now.astimezone(tz).date())
    per_run: dict[int, dict[int | None, Tally]] = {r.run_id: {} for r in runs}
    for g in groups:
        per_run[g.run_id].setdefault(g.village_id, Tally()).add(child_status(g.inputs), g.children)
    figures = LedgerFigures(runs=runs, areas=areas)
    for run in runs:
        figures.rows += _area_rows(scope, run, areas, per_run[run.run_id])
    figures.total.merge(row.tally for row in figures.rows if row.level in ("county", "total"))
    if len(runs) > 1:
        figures.rows.append(AreaRow("total", "", "", figures.total))
    return figures


def _t(key: str, **params: object) -> str:
    return t(LEDGER_LANGUAGE, key, **params)


def summary_columns() -> list[Column]:
    return [
        Column(_t("school_age.col.level"), 10),
        Column(_t("school_age.col.township"), 14),
        Column(_t("school_age.col.village"), 14),
        Column(_t("school_age.col.children"), 10, "int"),
        *(Column(_t(f"school_age.status.{s}"), 10, "int") for s in STATUSES),
        Column(_t("school_age.col.expected"), 10, "int"),
        Column(_t("school_age.col.enrolled"), 10, "int"),
        Column(_t("school_age.col.enrolment_rate"), 10),
        Column(_t("school_age.col.on_roll"), 10, "int"),
        Column(_t("school_age.col.retention_rate"), 10),
    ]


def summary_sheet(figures: LedgerFigures) -> Sheet:
    """One row per area: children per status, then 入学率 and 巩固率 with the counts they come from."""

    async def cells() -> AsyncIterator[Sequence[Any]]:
        for row in figures.rows:
            tally = row.tally
            yield [
                _t(f"school_age.level.{row.level}"),
                row.township,
                row.village,
                tally.children,
                *(tally.by_status[s] for s in STATUSES),
                tally.expected,
                tally.enrolled,
                percent(tally.enrolment_rate),
                tally.on_roll,
                percent(tally.retention_rate),
            ]

    return Sheet(title=_t("school_age.sheet.summary"), columns=summary_columns(), rows=cells())


LIST_KEYS = [
    ("seq", 6, "int"),
    ("township", 14, "text"),
    ("village", 14, "text"),
    ("name", 10, "text"),
    ("sex", 6, "text"),
    ("birth_date", 12, "date"),
    ("age", 6, "int"),
    ("national_id", 22, "text"),
    ("student_number", 22, "text"),
    ("school", 22, "text"),
    ("status", 14, "text"),
    ("bucket", 22, "text"),
    ("case_number", 14, "text"),
    ("poverty", 10, "text"),
    ("disability", 12, "text"),
]


def list_columns() -> list[Column]:
    return [Column(_t(f"school_age.col.{key}"), width, kind) for key, width, kind in LIST_KEYS]


async def list_sheet(
    uow: UnitOfWork, scope: Scope, figures: LedgerFigures, *, as_of: date, pii: bool
) -> Sheet:
    """One row per child, streamed. Outside authorised exports the name, ID number and student number
    are masked and a disability is only marked (its type and grade are health data)."""
    schools = {s.id: s.name for s in await uow.directory.schools()}
    areas = figures.areas
    ages = {r.run_id: AgeRule(cutoff=r.cutoff) for r in figures.runs}
    latest = [store.LatestRun(r.run_id, r.county_id, r.created_at, r.cutoff) for r in figures.runs]
    yes, not_placed = _t("ledger.yes"), _t("school_age.level.not_placed")

    def place(village_id: int | None) -> tuple[str, str]:
        village = areas.get(village_id) if village_id is not None else None
        if village is None:
            return "", not_placed
        if village.level != "village" or village.parent_id not in areas:
            return village.name, ""
        return areas[village.parent_id].name, village.name

    async def cells() -> AsyncIterator[Sequence[Any]]:
        seq = 0
        async for c in store.stream_children(uow.session, scope, latest, as_of):
            seq += 1
            school = schools.get(c.school_id) if c.school_id is not None else c.school_label
            disability = (c.disability or yes) if pii else yes
            yield [
                seq,
                *place(c.village_id),
                c.name if pii else mask_name(c.name),
                _t(f"ledger.sex.{c.sex}") if c.sex in ("M", "F") else "",
                c.birth_date,
                ages[c.run_id].age(c.birth_date) if c.birth_date else None,
                c.national_id if pii else mask_id(c.national_id),
                c.student_number if pii else mask_student_number(c.student_number),
                school or "",
                _t(f"school_age.status.{child_status(c.inputs)}"),
                _t(f"crosscheck.bucket.{c.inputs.bucket}"),
                c.case_number or "",
                yes if c.poverty else "",
                disability if c.disability else "",
            ]

    return Sheet(title=_t("school_age.sheet.list"), columns=list_columns(), rows=cells())


async def export_school_age_ledger(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    fmt: str,
    path: Path,
    *,
    now: datetime,
    tz: ZoneInfo,
    pii: bool,
) -> int:
    """Writes the ledger (.xlsx: summary and list; .csv: the list) to `path` and audits the export; returns
    the number of children listed. Raises NoCrosscheckSaved. The caller commits."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt}")
    figures = await ledger_figures(uow, scope, now=now, tz=tz)
    children = await list_sheet(uow, scope, figures, as_of=now.astimezone(tz).date(), pii=pii)
    if fmt == "xlsx":
        summary = summary_sheet(figures)
        count = await write_xlsx(path, [summary, children], tz) - len(figures.rows)
    else:
        count = await write_csv(path, children, tz)
    runs = [r.run_id for r in figures.runs]
    audit(uow, actor, now, "export", "ledger", "school_age", format=fmt, rows=count, pii=pii, runs=runs)
    return count


def file_name(fmt: str, today: date) -> str:
    return f"{_t('school_age.title')}_{today:%Y%m%d}.{fmt}"
