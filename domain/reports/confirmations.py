"""一月一报告 confirmed: the principal checks the school's monthly report and confirms (submits) it, so
the county sees which schools have not (一季度一复核 checks school data quarterly, DOMAIN.md §4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.errors import InvalidInput, NotInScope
from domain.people.roles import Role
from domain.policy import Policy
from storage.models import MonthlyReportConfirmation, School, Staff
from storage.report_confirmations import ConfirmationQueries
from storage.reporting import ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWork


def last_month(today: date) -> date:
    """The first day of the calendar month before `today`'s: the month whose report is due now."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class Confirmed:
    row: MonthlyReportConfirmation
    already: bool  # confirmed before (a second tap or click changes nothing)


async def confirm_monthly_report(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    school_id: int,
    month: date,
    *,
    now: datetime,
    tz: ZoneInfo,
) -> Confirmed:
    """Records that the school's principal checked and submitted the report of `month` (who, when),
    audited. Only a principal of that school may (the school's first responsible person, DOMAIN.md §1);
    anyone else is refused and audited. Only a month that has ended; confirming twice keeps the first."""
    first = month.replace(day=1)
    if not (school_id in scope.school_ids or scope.everything) or (
        staff.role != Role.PRINCIPAL or staff.school_id != school_id
    ):
        audit(uow, actor, now, "denied", "monthly_report", f"{school_id}:{first:%Y-%m}")
        raise NotInScope(f"school {school_id}")
    if first >= now.astimezone(tz).date().replace(day=1):
        raise InvalidInput("report_month_not_over", month=f"{first:%Y-%m}")
    queries = ConfirmationQueries(uow.session)
    if (earlier := await queries.get(school_id, first)) is not None:
        return Confirmed(earlier, already=True)
    row = await queries.add(school_id, first, staff.id, now)
    audit(uow, actor, now, "confirm", "monthly_report", f"{school_id}:{first:%Y-%m}")
    return Confirmed(row, already=False)


@dataclass(frozen=True)
class MissingReports:
    """Last month's reports not confirmed by the policy day: none are listed before `due`."""

    month: date
    due: date  # the last day to confirm
    schools: Sequence[School] = field(default_factory=list)
    listed: bool = False  # the due day has passed: an empty list means every school confirmed


async def missing_reports(
    uow: UnitOfWork, scope: Scope, *, now: datetime, tz: ZoneInfo, policy: Policy
) -> MissingReports:
    """The schools in scope whose report for last month is still unconfirmed after the policy day."""
    today = now.astimezone(tz).date()
    month = last_month(today)
    due = today.replace(day=policy.monthly_report_confirm_by)
    if today <= due:
        return MissingReports(month, due)
    schools = await ReportingRepository(uow.session).schools(scope)
    done = await ConfirmationQueries(uow.session).confirmed([s.id for s in schools], month, month)
    return MissingReports(month, due, [s for s in schools if (s.id, month) not in done], listed=True)
