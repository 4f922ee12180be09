"""The 一季度一复核 workbook for county officers: downloaded from the dashboard (scope-checked,
audited) or delivered in chat when a quarter starts (the scheduler, on the monthly report day).
The downloading and delivering are shared with the term and year reviews (domain.reports.review_delivery)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.audit import Actor
from domain.messages import Messenger
from domain.policy import Policy
from domain.reminders.quiet_hours import is_quiet
from domain.reports.monthly_report import Delivery, ReportServices
from domain.reports.quarterly_review import Period, QuarterlyReview
from domain.reports.quarterly_workbook import file_name
from domain.reports.review_delivery import QUARTERLY, REVIEW_ROLES, deliver_reviews, export_review
from storage.models import Staff
from storage.scope import Scope
from storage.uow import UnitOfWork

__all__ = ["ENTITY", "REVIEW_ROLES", "deliver_quarterly_reviews", "export_quarterly_review", "file_name"]
ENTITY = QUARTERLY.entity


def review_due(now: datetime, policy: Policy, tz: ZoneInfo) -> Period | None:
    """The quarter whose review goes out now, if any: in the first month of the next quarter, from the
    monthly report day at the digest time on, outside quiet hours and skipped days (a review missed on
    a weekend goes out on the next working day; those already served are skipped)."""
    local = now.astimezone(tz)
    if local.month % 3 != 1 or local.day < policy.monthly_report_day or is_quiet(now, policy, tz):
        return None
    if local.day == policy.monthly_report_day and local.time() < policy.reminders.digest_time:
        return None
    return Period.quarter_before(local.date())


async def export_quarterly_review(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    period: Period,
    path: Path,
    *,
    now: datetime,
    tz: ZoneInfo,
) -> QuarterlyReview:
    """The review of the schools in the officer's scope (NotInScope, audited, for anyone else).
    Caller commits."""
    return await export_review(uow, scope, actor, staff, QUARTERLY, period, path, now=now, tz=tz)


async def deliver_quarterly_reviews(
    services: ReportServices,
    bot: Messenger,
    period: Period,
    *,
    keep_going: Callable[[], bool] = lambda: True,
) -> Delivery:
    """Sends each reachable county officer the review of their county for `period`; see
    domain.reports.review_delivery.deliver_reviews."""
    return await deliver_reviews(services, bot, QUARTERLY, period, keep_going=keep_going)
