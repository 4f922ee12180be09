"""送教上门台账: per child the plan, sessions held against sessions planned, and the last session.

"Planned" counts the periods of the plan's cadence that have ended by the ledger day (a period still
running is shown apart, as "this period"), so a week not over yet never reads as missed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.home_teaching.plans import counts, held_in, period_of
from domain.privacy.identity import mask_name, mask_student_number
from domain.privacy.pii_text import mask_identifiers
from domain.reports.sheets import Column, Sheet, write_csv, write_xlsx
from i18n import t
from storage import home_teaching as store
from storage.models import HomeTeachingPlan
from storage.scope import Scope
from storage.uow import UnitOfWork

LANGUAGE = "zh_CN"  # ledgers go to the county in the official (Chinese) layout
FORMATS = ("xlsx", "csv")

MAX_PERIODS = 600  # about eleven years of weeks: a bound on the walk, never reached by a real plan


@dataclass(frozen=True)
class LedgerRow:
    plan_id: int
    school: str
    class_name: str
    pupil_name: str
    student_number: str
    teachers: str
    cadence: str
    sessions_per_period: int
    minutes_per_session: int
    content_areas: str
    starts_on: date
    review_on: date
    ends_on: date | None
    assessment_ref: str
    active: bool
    planned: int  # sessions owed by the periods ended by the ledger day
    held: int  # sessions held up to the ledger day
    held_minutes: int
    this_period_held: int
    last_session: date | None


def planned_sessions(plan: HomeTeachingPlan, as_of: date, since: date | None = None) -> int:
    """Sessions the plan owed in the periods that ended on or before `as_of` (and not before `since`)."""
    total, period = 0, period_of(plan.starts_on, plan.cadence)
    for _ in range(MAX_PERIODS):
        if period.ends_on > as_of:
            break
        if counts(plan, period) and (since is None or period.ends_on >= since):
            total += plan.sessions_per_period
        period = period_of(period.ends_on + timedelta(days=1), plan.cadence)
    return total


async def ledger_rows(uow: UnitOfWork, scope: Scope, *, as_of: date) -> list[LedgerRow]:
    """Every plan of a pupil in scope, as of the end of `as_of` (sessions held later are left out)."""
    plans = await store.plans_in_scope(uow.session, scope)
    sessions = await store.sessions_of_plans(uow.session, [p.id for p, _ in plans])
    rows = []
    for plan, student in plans:
        held = [s for s in sessions[plan.id] if s.held_on <= as_of]
        school = await uow.directory.school(student.school_id)
        school_class = await uow.directory.school_class(student.class_id)
        names = []
        for staff_id in plan.teacher_ids:
            staff = await uow.directory.staff(int(staff_id))
            names.append(staff.name if staff is not None else "?")
        current = period_of(as_of, plan.cadence)
        rows.append(
            LedgerRow(
                plan_id=plan.id,
                school=school.name if school else "",
                class_name=school_class.name if school_class else "",
                pupil_name=student.name,
                student_number=student.student_number,
                teachers="、".join(names),
                cadence=plan.cadence,
                sessions_per_period=plan.sessions_per_period,
                minutes_per_session=plan.minutes_per_session,
                content_areas=plan.content_areas,
                starts_on=plan.starts_on,
                review_on=plan.review_on,
                ends_on=plan.ends_on,
                assessment_ref=plan.assessment_ref,
                active=plan.active,
                planned=planned_sessions(plan, as_of),
                held=len(held),
                held_minutes=sum(s.minutes for s in held),
                this_period_held=held_in([s.held_on for s in held], current),
                last_session=max((s.held_on for s in held), default=None),
            )
        )
    return rows


_COLUMNS = [
    ("seq", 6, "int"),
    ("school", 22, "text"),
    ("class", 12, "text"),
    ("name", 10, "text"),
    ("student_number", 22, "text"),
    ("ht_assessment_ref", 18, "text"),
    ("ht_teachers", 16, "text"),
    ("ht_cadence", 16, "text"),
    ("ht_content_areas", 30, "text"),
    ("ht_starts_on", 12, "date"),
    ("ht_review_on", 12, "date"),
    ("ht_ends_on", 12, "date"),
    ("ht_planned", 8, "int"),
    ("ht_held", 8, "int"),
    ("ht_held_minutes", 10, "int"),
    ("ht_this_period", 10, "int"),
    ("ht_last_session", 12, "date"),
    ("ht_state", 8, "text"),
]


def _cadence(row: LedgerRow) -> str:
    return t(
        LANGUAGE,
        f"web.home_teaching.cadence_value.{row.cadence}",
        n=row.sessions_per_period,
        minutes=row.minutes_per_session,
    )


def ledger_sheet(rows: list[LedgerRow], *, pii: bool) -> Sheet:
    """送教上门台账; outside authorised exports the student number is masked, and ID or mobile numbers
    typed into the content or the reference are masked too."""

    async def cells() -> AsyncIterator[Sequence[Any]]:
        for seq, r in enumerate(rows, start=1):
            text = (lambda v: v) if pii else mask_identifiers
            yield [
                seq,
                r.school,
                r.class_name,
                r.pupil_name,
                r.student_number if pii else mask_student_number(r.student_number),
                text(r.assessment_ref),
                r.teachers,
                _cadence(r),
                text(r.content_areas),
                r.starts_on,
                r.review_on,
                r.ends_on,
                r.planned,
                r.held,
                r.held_minutes,
                r.this_period_held,
                r.last_session,
                t(LANGUAGE, "ledger.ht_state.active" if r.active else "ledger.ht_state.inactive"),
            ]

    return Sheet(
        title=t(LANGUAGE, "ledger.home_teaching.title"),
        columns=[Column(t(LANGUAGE, f"ledger.col.{k}"), w, kind) for k, w, kind in _COLUMNS],
        rows=cells(),
    )


async def export_home_teaching_ledger(
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
    """Writes the ledger as of today to `path` and audits the export; the caller commits."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt}")
    rows = await ledger_rows(uow, scope, as_of=now.astimezone(tz).date())
    sheet = ledger_sheet(rows, pii=pii)
    count = await (write_xlsx(path, [sheet], tz) if fmt == "xlsx" else write_csv(path, sheet, tz))
    audit(uow, actor, now, "export", "ledger", "home_teaching", format=fmt, rows=count, pii=pii)
    return count


def file_name(fmt: str, today: date) -> str:
    return f"{t(LANGUAGE, 'ledger.home_teaching.title')}_{today:%Y%m%d}.{fmt}"


async def monthly_sheet(
    uow: UnitOfWork, school_id: int, month: date, *, pii: bool, masked_names: bool
) -> Sheet:
    """The 送教上门 section of a school's monthly report: per plan, sessions planned in the periods that
    ended in the month against sessions held in it, and the last session by the month's end."""
    last_day = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    school_scope = Scope(staff_id=None, school_ids=frozenset({school_id}))
    rows = await ledger_rows(uow, school_scope, as_of=last_day)
    plans = {p.id: p for p, _ in await store.plans_in_scope(uow.session, school_scope)}
    sessions = await store.sessions_of_plans(uow.session, list(plans))

    async def cells() -> AsyncIterator[Sequence[Any]]:
        for seq, r in enumerate(rows, start=1):
            in_month = [s for s in sessions[r.plan_id] if month <= s.held_on <= last_day]
            yield [
                seq,
                r.class_name,
                mask_name(r.pupil_name) if masked_names else r.pupil_name,
                r.student_number if pii else mask_student_number(r.student_number),
                r.teachers,
                _cadence(r),
                planned_sessions(plans[r.plan_id], last_day, since=month),
                len(in_month),
                sum(s.minutes for s in in_month),
                r.last_session,
            ]

    keys = [
        ("seq", 6, "int"),
        ("class", 12, "text"),
        ("name", 10, "text"),
        ("student_number", 22, "text"),
        ("ht_teachers", 16, "text"),
        ("ht_cadence", 16, "text"),
        ("ht_planned", 8, "int"),
        ("ht_held", 8, "int"),
        ("ht_held_minutes", 10, "int"),
        ("ht_last_session", 12, "date"),
    ]
    return Sheet(
        title=t(LANGUAGE, "ledger.home_teaching.title"),
        columns=[Column(t(LANGUAGE, f"ledger.col.{k}"), w, kind) for k, w, kind in keys],
        rows=cells(),
    )
