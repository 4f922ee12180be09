"""The officers' reviews of the 四个一 (003_ee1c82519c64281c.txt): 县区一季度一复核, 地市一学期一调研 and
省级一学年一评估. Each is downloaded from the dashboard (role- and scope-checked, audited) or delivered in
chat when its period ends (the scheduler), to the officers of the level that files it."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.errors import NotInScope
from domain.messages import Address, Messenger
from domain.people.language import language_of
from domain.people.roles import Role
from domain.people.scope import area_tree, scope_for
from domain.reports.area_review_workbook import file_name as area_file_name
from domain.reports.area_review_workbook import write_area_review
from domain.reports.monthly_report import Delivery, ReportServices
from domain.reports.quarterly_review import QuarterlyReview, ReviewPeriod, quarterly_review
from domain.reports.quarterly_workbook import file_name as quarterly_file_name
from domain.reports.quarterly_workbook import write_quarterly_review
from domain.school_age.out_of_school_figures import out_of_school_figures
from i18n import t
from storage.models import Staff
from storage.report_confirmations import delivered
from storage.reporting import ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)
# Officers from the county up review their area (a township or school sees its own figures elsewhere);
# a county officer may also download the term and year workbooks of the county.
REVIEW_ROLES = frozenset(
    r.value for r in (Role.COUNTY_OFFICER, Role.CITY_OFFICER, Role.PROVINCE_OFFICER, Role.ADMIN)
)
Writer = Callable[[QuarterlyReview, Path, ZoneInfo, date], Awaitable[None]]


@dataclass(frozen=True)
class ReviewKind:
    key: str  # quarterly | term | year: the catalog prefix of its texts
    entity: str  # in the audit log, for downloads, refusals and deliveries
    recipients: Role  # who is sent it in chat when its period ends
    write: Writer
    file_name: Callable[[QuarterlyReview], str]
    roles: frozenset[str] = REVIEW_ROLES  # who may download it


async def _write_quarterly(review: QuarterlyReview, path: Path, tz: ZoneInfo, reported_on: date) -> None:
    await write_quarterly_review(review, path, tz, reported_on=reported_on)


def _area_kind(key: str, recipients: Role) -> ReviewKind:
    async def write(review: QuarterlyReview, path: Path, tz: ZoneInfo, reported_on: date) -> None:
        await write_area_review(review, key, path, tz, reported_on=reported_on)

    return ReviewKind(key, f"{key}_review", recipients, write, lambda review: area_file_name(key, review))


QUARTERLY = ReviewKind(
    "quarterly", "quarterly_review", Role.COUNTY_OFFICER, _write_quarterly, quarterly_file_name
)
TERM = _area_kind("term", Role.CITY_OFFICER)
YEAR = _area_kind("year", Role.PROVINCE_OFFICER)


async def build_review(
    uow: UnitOfWork,
    staff: Staff,
    scope: Scope,
    period: ReviewPeriod,
    now: datetime,
    tz: ZoneInfo,
    area_id: int | None = None,
) -> QuarterlyReview:
    """The figures of the schools in `scope`, or only under `area_id` (an area the caller may see)."""
    root = area_id if area_id is not None else staff.area_id
    area = await uow.directory.area(root) if root is not None else None
    name = area.name if area is not None else t("zh_CN", "quarterly.all_areas")
    if area_id is not None:
        scope = (await area_tree(uow)).scope_under(staff.id, area_id)
    schools = await ReportingRepository(uow.session).schools(scope)
    review = await quarterly_review(uow, schools, period, area_name=name, now=now, tz=tz)
    # 失学 children have no school: counted per township of the area, beside the schools' rows.
    review.out_of_school = await out_of_school_figures(uow, scope, period.first, period.end, tz=tz)
    return review


async def export_review(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    kind: ReviewKind,
    period: ReviewPeriod,
    path: Path,
    *,
    now: datetime,
    tz: ZoneInfo,
    area_id: int | None = None,
) -> QuarterlyReview:
    """The review of the officer's area, or of `area_id` inside it. NotInScope (audited) for another
    role or an area outside their scope. Caller commits."""
    known = area_id is None or await uow.directory.area(area_id) is not None
    if (
        staff.role not in kind.roles
        or not known
        or not (area_id is None or scope.everything or area_id in scope.area_ids)
    ):
        audit(uow, actor, now, "denied", kind.entity, period.label, area=area_id)
        raise NotInScope(kind.entity)
    review = await build_review(uow, staff, scope, period, now, tz, area_id)
    await kind.write(review, path, tz, now.astimezone(tz).date())
    audit(uow, actor, now, "export", kind.entity, period.label, schools=len(review.schools), area=area_id)
    return review


async def deliver_reviews(
    services: ReportServices,
    bot: Messenger,
    kind: ReviewKind,
    period: ReviewPeriod,
    *,
    keep_going: Callable[[], bool] = lambda: True,
) -> Delivery:
    """Sends each reachable officer of `kind.recipients` the review of their area for `period` (names of
    schools, no pupil). Safe to call again: recipients already served (audit log) are skipped, failed
    ones are retried by the next call; one caller at a time (the scheduler's leader)."""
    result = Delivery()
    async with services.uow() as uow:
        tree = await area_tree(uow)
        officers = []
        for person in await uow.directory.all_staff():
            if not person.active or person.role != kind.recipients:
                continue
            account = await uow.directory.account_for_staff(person.id)
            if account is None or account.unreachable_since is not None:
                continue
            language = language_of(person, default=services.default_language)
            to = Address(account.channel, account.conversation)
            officers.append((person, to, language, await scope_for(uow, person, tree)))
    for person, to, language, scope in officers:
        if not keep_going():
            break
        key = f"area-{person.area_id}:{period.label}:{person.id}"
        now = services.clock.now()
        try:
            with tempfile.TemporaryDirectory(prefix=f"nol-{kind.key}-") as folder:
                path = Path(folder) / "review.xlsx"
                async with services.uow() as uow:
                    if await delivered(uow.session, kind.entity, key):
                        result.already_sent.append(key)
                        continue
                    review = await build_review(uow, person, scope, period, now, services.tz)
                    await kind.write(review, path, services.tz, now.astimezone(services.tz).date())
                caption = t(
                    language,
                    f"{kind.key}.caption",
                    area=review.area_name,
                    period=period.label,
                    schools=len(review.schools),
                    missing=sum(1 for s in review.schools if s.unconfirmed),
                )
                await bot.send_file(to, path.read_bytes(), filename=kind.file_name(review), caption=caption)
        # One officer's failure (network, blocked bot, …) must not stop the others; not recorded as
        # delivered, it is retried by the next call.
        except Exception:
            log.exception("%s review %s could not be delivered", kind.key, key)
            result.failed.append(key)
            continue
        async with services.uow() as uow:
            audit(
                uow,
                Actor.system(kind.entity),
                services.clock.now(),
                "deliver",
                kind.entity,
                key,
                staff=person.id,
            )
            await uow.commit()
        result.sent.append(key)
    return result
