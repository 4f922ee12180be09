"""学校一月一报告 (003_ee1c82519c64281c.txt): a school's report for one calendar month, downloaded from
the dashboard or delivered in chat after the month ends (numbers: domain.reports.monthly_numbers, workbook:
domain.reports.monthly_workbook)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.clock import Clock
from domain.errors import NotInScope
from domain.messages import Address, Messenger
from domain.people.language import language_of
from domain.people.roles import Role
from domain.people.scope import area_tree, scope_for
from domain.reports.monthly_numbers import MonthlyNumbers, month_bounds, monthly_numbers
from domain.reports.monthly_workbook import file_name, write_monthly_report
from domain.school_age.out_of_school_figures import TownshipOutOfSchool, out_of_school_figures
from i18n import t
from storage.ledger_queries import LedgerQueries
from storage.models import Staff
from storage.scope import Scope
from storage.uow import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "Delivery",
    "MonthlyNumbers",
    "deliver_monthly_reports",
    "export_monthly_report",
    "file_name",
    "monthly_numbers",
    "write_monthly_report",
]
log = logging.getLogger(__name__)
# City and province officers get the term and year reviews instead (domain.reports.review_delivery).
REPORT_ROLES = frozenset({Role.PRINCIPAL.value, Role.TOWNSHIP_OFFICER.value, Role.COUNTY_OFFICER.value})
MAX_SCHOOL_LINES = 30  # a county summary names its 30 schools with the most pupils in the ledgers


async def export_monthly_report(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    school_id: int,
    month: date,
    path: Path,
    *,
    now: datetime,
    tz: ZoneInfo,
    pii: bool,
) -> MonthlyNumbers:
    """The report of a school in the person's scope (NotInScope, audited, otherwise). Caller commits."""
    if not (scope.everything or school_id in scope.school_ids):
        audit(uow, actor, now, "denied", "school", school_id)
        raise NotInScope(f"school {school_id}")
    numbers = await monthly_numbers(uow, school_id, month, tz)
    await write_monthly_report(uow, numbers, path, tz, reported_on=now.astimezone(tz).date(), pii=pii)
    audit(uow, actor, now, "export", "monthly_report", f"{school_id}:{numbers.month:%Y-%m}", pii=pii)
    return numbers


class ReportServices(Protocol):
    uow: UnitOfWorkFactory
    clock: Clock

    @property
    def tz(self) -> ZoneInfo: ...

    @property
    def default_language(self) -> str: ...


@dataclass
class Delivery:
    """Keys (school:month:staff or area:month:staff) sent now, sent before, and failed (to retry)."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Recipient:
    key: str
    staff: Staff
    to: Address
    language: str
    school_ids: tuple[int, ...]
    area: str | None  # None: a principal, who gets the workbook
    scope: Scope | None = None  # an officer's area: its 失学 children are summed up by township


def _summary_text(
    recipient: _Recipient,
    reports: list[MonthlyNumbers],
    month: date,
    out_of_school: list[TownshipOutOfSchool] | None = None,
) -> str:
    lang = recipient.language
    total = {
        k: sum(getattr(r, k) for r in reports)
        for k in (
            "new_suspected",
            "new_dropouts",
            "returned",
            "persuasion_attempts",
            "open_suspected",
            "open_dropouts",
        )
    }
    lines = [
        t(
            lang,
            "ledger.monthly.officer_summary",
            month=f"{month:%Y-%m}",
            area=recipient.area or "",
            schools=len(reports),
            **total,
        )
    ]
    ranked = sorted(reports, key=lambda r: (-r.open_dropouts, -r.open_suspected, r.school_name))
    lines += [
        t(
            lang,
            "ledger.monthly.school_line",
            school=r.school_name,
            suspected=r.open_suspected,
            dropouts=r.open_dropouts,
        )
        for r in ranked[:MAX_SCHOOL_LINES]
    ]
    if out_of_school:  # 失学 children have no school: one line for the area, apart from the dropouts
        lines.append(
            t(
                lang,
                "out_of_school.monthly.summary",
                new=sum(r.new for r in out_of_school),
                enrolled=sum(r.enrolled for r in out_of_school),
                still_out=sum(r.still_out for r in out_of_school),
            )
        )
    return "\n".join(lines)


async def _recipients(uow: UnitOfWork, month: date, default_language: str) -> list[_Recipient]:
    found = []
    tree = await area_tree(uow)
    for person in await uow.directory.all_staff():
        if not person.active or person.role not in REPORT_ROLES:
            continue
        account = await uow.directory.account_for_staff(person.id)
        if account is None or account.unreachable_since is not None:
            continue
        scope = await scope_for(uow, person, tree)
        area = await uow.directory.area(person.area_id) if person.area_id else None
        prefix = f"school-{person.school_id}" if person.role == Role.PRINCIPAL else f"area-{person.area_id}"
        found.append(
            _Recipient(
                key=f"{prefix}:{month:%Y-%m}:{person.id}",
                staff=person,
                to=Address(account.channel, account.conversation),
                language=language_of(person, default=default_language),
                school_ids=tuple(sorted(scope.school_ids)),
                area=None if person.role == Role.PRINCIPAL else (area.name if area else ""),
                scope=None if person.role == Role.PRINCIPAL else scope,
            )
        )
    return found


async def _send(
    services: ReportServices,
    bot: Messenger,
    recipient: _Recipient,
    reports: list[MonthlyNumbers],
    month: date,
) -> None:
    if recipient.area is not None:
        figures: list[TownshipOutOfSchool] = []
        if recipient.scope is not None:
            async with services.uow() as uow:
                start, end = month_bounds(month, services.tz)
                figures = await out_of_school_figures(
                    uow, recipient.scope, start.date(), end.date(), tz=services.tz
                )
        text = _summary_text(recipient, reports, month, figures)
        await bot.send_text(recipient.to, text)
        return
    numbers = reports[0]
    with tempfile.TemporaryDirectory(prefix="nol-monthly-") as folder:
        path = Path(folder) / "report.xlsx"
        async with services.uow() as uow:
            # A chat file travels through a messaging service and sits on a phone (DOMAIN.md §8): names
            # masked, no ID numbers.
            await write_monthly_report(
                uow,
                numbers,
                path,
                services.tz,
                reported_on=services.clock.now().astimezone(services.tz).date(),
                pii=False,
                masked_names=True,
            )
        caption = t(
            recipient.language,
            "ledger.monthly.caption",
            school=numbers.school_name,
            month=f"{month:%Y-%m}",
            suspected=numbers.open_suspected,
            dropouts=numbers.open_dropouts,
        )
        await bot.send_file(recipient.to, path.read_bytes(), filename=file_name(numbers), caption=caption)


async def deliver_monthly_reports(
    services: ReportServices, bot: Messenger, month: date, *, keep_going: Callable[[], bool] = lambda: True
) -> Delivery:
    """Sends each principal their school's workbook and township/county officers a summary of their
    area, for the month containing `month`. Safe to call again: recipients already served are skipped
    (the audit log records each delivery), and failed ones are retried by the next call. The audit log
    is not a lock: only one process may call this at a time (the scheduler's leader), and it stops
    before the next recipient once `keep_going()` is false (it stopped leading)."""
    result = Delivery()
    async with services.uow() as uow:
        recipients = await _recipients(uow, month, services.default_language)
        wanted = sorted({i for r in recipients for i in r.school_ids})
        numbers = {i: await monthly_numbers(uow, i, month, services.tz) for i in wanted}
    for recipient in recipients:
        if not keep_going():
            break
        async with services.uow() as uow:
            if await LedgerQueries(uow.session).already_delivered(recipient.key):
                result.already_sent.append(recipient.key)
                continue
        reports = [numbers[i] for i in recipient.school_ids]
        if recipient.area is None and not reports:
            continue
        try:
            await _send(services, bot, recipient, reports, month)
        # Any failure of one recipient (network, blocked bot, …) must not stop the others' reports;
        # it is logged and, not being recorded as delivered, retried on the next call.
        except Exception:
            log.exception("monthly report %s could not be delivered", recipient.key)
            result.failed.append(recipient.key)
            continue
        async with services.uow() as uow:
            audit(
                uow,
                Actor.system("monthly_report"),
                services.clock.now(),
                "deliver",
                "monthly_report",
                recipient.key,
                staff=recipient.staff.id,
            )
            await uow.commit()
        result.sent.append(recipient.key)
    return result
