"""The 一季度一复核 workbook for county officers: downloaded from the dashboard (scope-checked,
audited) or delivered in Telegram when a quarter starts (the scheduler, on the monthly report day)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.errors import NotInScope
from domain.monthly_report import Delivery, ReportBot, ReportServices
from domain.out_of_school_figures import out_of_school_figures
from domain.policy import Policy
from domain.quarterly_review import Period, QuarterlyReview, quarterly_review
from domain.quarterly_workbook import file_name, write_quarterly_review
from domain.quiet_hours import is_quiet
from domain.roles import Role
from domain.scope import area_tree, scope_for
from i18n import normalise_language, t
from storage.models import Staff
from storage.report_confirmations import delivered
from storage.reporting import ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWork

__all__ = ["ENTITY", "REVIEW_ROLES", "deliver_quarterly_reviews", "export_quarterly_review", "file_name"]
log = logging.getLogger(__name__)
# The county reviews its schools (DOMAIN.md §1): a township or school sees its own figures elsewhere.
REVIEW_ROLES = frozenset({Role.COUNTY_OFFICER.value, Role.ADMIN.value})
ENTITY = "quarterly_review"


async def _review(
    uow: UnitOfWork, staff: Staff, scope: Scope, period: Period, now: datetime, tz: ZoneInfo
) -> QuarterlyReview:
    area = await uow.directory.area(staff.area_id) if staff.area_id else None
    name = area.name if area is not None else t("zh_CN", "quarterly.all_areas")
    schools = await ReportingRepository(uow.session).schools(scope)
    review = await quarterly_review(uow, schools, period, area_name=name, now=now, tz=tz)
    review.out_of_school = await out_of_school_figures(uow, scope, period.first, period.end, tz=tz)
    return review


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
    """The review of the schools in the county officer's scope (NotInScope, audited, for anyone else).
    Caller commits."""
    if staff.role not in REVIEW_ROLES:
        audit(uow, actor, now, "denied", ENTITY, period.label)
        raise NotInScope(ENTITY)
    review = await _review(uow, staff, scope, period, now, tz)
    await write_quarterly_review(review, path, tz, reported_on=now.astimezone(tz).date())
    audit(uow, actor, now, "export", ENTITY, period.label, schools=len(review.schools))
    return review


async def deliver_quarterly_reviews(
    services: ReportServices,
    bot: ReportBot,
    period: Period,
    *,
    keep_going: Callable[[], bool] = lambda: True,
) -> Delivery:
    """Sends each reachable county officer the review of their county for `period` (names of schools,
    no pupil). Safe to call again: recipients already served (audit log) are skipped, failed ones are
    retried by the next call; one caller at a time (the scheduler's leader)."""
    result = Delivery()
    async with services.uow() as uow:
        tree = await area_tree(uow)
        officers = []
        for person in await uow.directory.all_staff():
            if not person.active or person.role != Role.COUNTY_OFFICER:
                continue
            binding = await uow.directory.binding_for_staff(person.id)
            if binding is None or binding.unreachable_since is not None:
                continue
            language = normalise_language(binding.language or person.language)
            officers.append((person, binding.chat_id, language, await scope_for(uow, person, tree)))
    for person, chat_id, language, scope in officers:
        if not keep_going():
            break
        key = f"area-{person.area_id}:{period.label}:{person.id}"
        now = services.clock.now()
        try:
            with tempfile.TemporaryDirectory(prefix="nol-quarterly-") as folder:
                path = Path(folder) / "review.xlsx"
                async with services.uow() as uow:
                    if await delivered(uow.session, ENTITY, key):
                        result.already_sent.append(key)
                        continue
                    review = await _review(uow, person, scope, period, now, services.tz)
                    await write_quarterly_review(
                        review, path, services.tz, reported_on=now.astimezone(services.tz).date()
                    )
                caption = t(
                    language,
                    "quarterly.caption",
                    area=review.area_name,
                    period=period.label,
                    schools=len(review.schools),
                    missing=sum(1 for s in review.schools if s.unconfirmed),
                )
                await bot.send_document(
                    chat_id=chat_id, document=path.read_bytes(), filename=file_name(review), caption=caption
                )
        # One officer's failure (network, blocked bot, …) must not stop the others; not recorded as
        # delivered, it is retried by the next call.
        except Exception:
            log.exception("quarterly review %s could not be delivered", key)
            result.failed.append(key)
            continue
        async with services.uow() as uow:
            audit(uow, Actor.system(ENTITY), services.clock.now(), "deliver", ENTITY, key, staff=person.id)
            await uow.commit()
        result.sent.append(key)
    return result
