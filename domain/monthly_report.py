"""学校一月一报告 (003_ee1c82519c64281c.txt): a school's numbers for one month, and its workbook."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.clock import Clock
from domain.errors import NotInScope
from domain.identity import mask_name, mask_student_number
from domain.lifecycle import DROPOUT_LEDGER, SUSPECTED_LEDGER, CaseStatus
from domain.roles import Role
from domain.scope import area_tree, scope_for
from domain.sheets import Column, Sheet, write_xlsx
from domain.stats import retention_rate
from i18n import normalise_language, t
from storage.ledger_queries import VISIT, LedgerQueries
from storage.models import Staff
from storage.scope import Scope
from storage.uow import UnitOfWork, UnitOfWorkFactory

S = CaseStatus
log = logging.getLogger(__name__)
REPORT_ROLES = frozenset({Role.PRINCIPAL.value, Role.TOWNSHIP_OFFICER.value, Role.COUNTY_OFFICER.value})
MAX_SCHOOL_LINES = 30  # a county summary names its 30 schools with the most pupils in the ledgers
LANGUAGE = "zh_CN"  # the report goes to the county in the official (Chinese) layout
SUMMARY_ROWS = (
    "enrolled",
    "new_suspected",
    "new_dropouts",
    "returned",
    "cleared",
    "closed",
    "persuasion_attempts",
    "open_suspected",
    "open_dropouts",
    "in_retention",
    "retention_rate",
)


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first moment of the month, first moment of the next month) in local time."""
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return datetime.combine(first, time.min, tz), datetime.combine(following, time.min, tz)


@dataclass
class MonthlyNumbers:
    """What the school reports for the month. "New" counts distinct cases entering a ledger in the
    month; "open" counts are the ledgers as they stood at the end of the month (or now, if earlier)."""

    school_id: int
    school_name: str
    month: date
    enrolled: int = 0
    new_suspected: int = 0
    new_dropouts: int = 0
    returned: int = 0
    cleared: int = 0
    closed: int = 0
    persuasion_attempts: int = 0
    open_suspected: int = 0
    open_dropouts: int = 0
    in_retention: int = 0
    status_at_end: dict[int, str] = field(default_factory=dict)

    @property
    def retention_rate(self) -> float | None:
        return retention_rate(self.enrolled, self.open_dropouts)

    def value(self, key: str) -> Any:
        rate = self.retention_rate
        if key == "retention_rate":
            return None if rate is None else round(rate, 4)
        return getattr(self, key)


def _tally(numbers: MonthlyNumbers, events: Sequence[Any], start: datetime) -> None:
    """Replays the timeline up to the end of the month: who entered which ledger, and where each case stood."""
    entered: dict[str, set[int]] = {
        k: set() for k in ("suspected", "dropout", "returned", "cleared", "closed")
    }
    for case_id, kind, occurred_at, from_status, to_status in events:
        in_month = occurred_at >= start
        if in_month and kind == VISIT:
            numbers.persuasion_attempts += 1
        if to_status is None:
            continue
        numbers.status_at_end[case_id] = to_status
        if not in_month:
            continue
        if to_status in SUSPECTED_LEDGER and from_status not in SUSPECTED_LEDGER:
            entered["suspected"].add(case_id)
        if to_status in DROPOUT_LEDGER and from_status not in DROPOUT_LEDGER:
            entered["dropout"].add(case_id)
        for status in ("returned", "cleared", "closed"):
            if to_status == status:
                entered[status].add(case_id)
    numbers.new_suspected, numbers.new_dropouts = len(entered["suspected"]), len(entered["dropout"])
    numbers.returned, numbers.cleared = len(entered["returned"]), len(entered["cleared"])
    numbers.closed = len(entered["closed"])
    at_end = list(numbers.status_at_end.values())
    numbers.open_suspected = sum(s in SUSPECTED_LEDGER for s in at_end)
    numbers.open_dropouts = sum(s in DROPOUT_LEDGER for s in at_end)
    numbers.in_retention = sum(s in (S.RETURNED, S.RETENTION) for s in at_end)


async def monthly_numbers(uow: UnitOfWork, school_id: int, month: date, tz: ZoneInfo) -> MonthlyNumbers:
    """Counts the school's month from the case timelines (events are never changed afterwards)."""
    queries = LedgerQueries(uow.session)
    school = await queries.school(school_id)
    if school is None:
        raise NotInScope(f"school {school_id}")
    start, end = month_bounds(month, tz)
    numbers = MonthlyNumbers(
        school_id=school.id,
        school_name=school.name,
        month=start.date(),
        enrolled=await queries.enrolled_in_school(school.id),
    )
    _tally(numbers, await queries.school_events(school.id, end), start)
    return numbers


def _summary_sheet(numbers: MonthlyNumbers) -> Sheet:
    async def rows() -> AsyncIterator[Sequence[Any]]:
        yield [t(LANGUAGE, "ledger.monthly.school"), numbers.school_name]
        yield [t(LANGUAGE, "ledger.monthly.month"), f"{numbers.month:%Y-%m}"]
        for key in SUMMARY_ROWS:
            yield [t(LANGUAGE, f"ledger.monthly.{key}"), numbers.value(key)]

    return Sheet(
        title=t(LANGUAGE, "ledger.monthly.summary_sheet"),
        columns=[
            Column(t(LANGUAGE, "ledger.monthly.item"), 28),
            Column(t(LANGUAGE, "ledger.monthly.value"), 22),
        ],
        rows=rows(),
    )


async def _detail_sheet(uow: UnitOfWork, numbers: MonthlyNumbers, *, pii: bool, masked_names: bool) -> Sheet:
    wanted = {i for i, s in numbers.status_at_end.items() if s in SUSPECTED_LEDGER | DROPOUT_LEDGER}
    found = await LedgerQueries(uow.session).school_cases(numbers.school_id, wanted)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for seq, (case, student, class_name, grade, teacher) in enumerate(found, start=1):
            status = numbers.status_at_end[case.id]
            yield [
                seq,
                case.number,
                grade,
                class_name,
                mask_name(student.name) if masked_names else student.name,
                student.student_number if pii else mask_student_number(student.student_number),
                t(LANGUAGE, f"status.{status}"),
                t(LANGUAGE, "ledger.dropout.short" if status in DROPOUT_LEDGER else "ledger.suspected.short"),
                case.first_absent_on,
                teacher or "",
            ]

    keys = [
        ("seq", 6, "int"),
        ("case_number", 14, "text"),
        ("grade", 6, "int"),
        ("class", 12, "text"),
        ("name", 10, "text"),
        ("student_number", 22, "text"),
        ("status", 14, "text"),
        ("ledger", 10, "text"),
        ("first_absent_on", 12, "date"),
        ("teacher", 10, "text"),
    ]
    return Sheet(
        title=t(LANGUAGE, "ledger.monthly.detail_sheet"),
        columns=[Column(t(LANGUAGE, f"ledger.col.{k}"), w, kind) for k, w, kind in keys],
        rows=rows(),
    )


async def write_monthly_report(
    uow: UnitOfWork,
    numbers: MonthlyNumbers,
    path: Path,
    tz: ZoneInfo,
    *,
    pii: bool = False,
    masked_names: bool = False,
) -> None:
    """The .xlsx: a summary sheet and the pupils in the two ledgers at the end of the month."""
    detail = await _detail_sheet(uow, numbers, pii=pii, masked_names=masked_names)
    await write_xlsx(path, [_summary_sheet(numbers), detail], tz)


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
    await write_monthly_report(uow, numbers, path, tz, pii=pii)
    audit(uow, actor, now, "export", "monthly_report", f"{school_id}:{numbers.month:%Y-%m}", pii=pii)
    return numbers


def file_name(numbers: MonthlyNumbers) -> str:
    return f"{t(LANGUAGE, 'ledger.monthly.title')}_{numbers.school_name}_{numbers.month:%Y%m}.xlsx"


class ReportBot(Protocol):
    """The two Bot API calls the delivery needs (python-telegram-bot's Bot has both)."""

    async def send_document(self, chat_id: int, document: bytes, *, filename: str, caption: str) -> Any: ...

    async def send_message(self, chat_id: int, text: str) -> Any: ...


class ReportServices(Protocol):
    uow: UnitOfWorkFactory
    clock: Clock

    @property
    def tz(self) -> ZoneInfo: ...


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
    chat_id: int
    language: str
    school_ids: tuple[int, ...]
    area: str | None  # None: a principal, who gets the workbook


def _summary_text(recipient: _Recipient, reports: list[MonthlyNumbers], month: date) -> str:
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
    return "\n".join(lines)


async def _recipients(uow: UnitOfWork, month: date) -> list[_Recipient]:
    found = []
    tree = await area_tree(uow)
    for person in await uow.directory.all_staff():
        if not person.active or person.role not in REPORT_ROLES:
            continue
        binding = await uow.directory.binding_for_staff(person.id)
        if binding is None or binding.unreachable_since is not None:
            continue
        scope = await scope_for(uow, person, tree)
        area = await uow.directory.area(person.area_id) if person.area_id else None
        prefix = f"school-{person.school_id}" if person.role == Role.PRINCIPAL else f"area-{person.area_id}"
        found.append(
            _Recipient(
                key=f"{prefix}:{month:%Y-%m}:{person.id}",
                staff=person,
                chat_id=binding.chat_id,
                language=normalise_language(binding.language or person.language),
                school_ids=tuple(sorted(scope.school_ids)),
                area=None if person.role == Role.PRINCIPAL else (area.name if area else ""),
            )
        )
    return found


async def _send(
    services: ReportServices,
    bot: ReportBot,
    recipient: _Recipient,
    reports: list[MonthlyNumbers],
    month: date,
) -> None:
    if recipient.area is not None:
        await bot.send_message(chat_id=recipient.chat_id, text=_summary_text(recipient, reports, month))
        return
    numbers = reports[0]
    with tempfile.TemporaryDirectory(prefix="nol-monthly-") as folder:
        path = Path(folder) / "report.xlsx"
        async with services.uow() as uow:
            # Telegram is outside mainland China (DOMAIN.md §8): names masked, no ID numbers.
            await write_monthly_report(uow, numbers, path, services.tz, pii=False, masked_names=True)
        caption = t(
            recipient.language,
            "ledger.monthly.caption",
            school=numbers.school_name,
            month=f"{month:%Y-%m}",
            suspected=numbers.open_suspected,
            dropouts=numbers.open_dropouts,
        )
        await bot.send_document(
            chat_id=recipient.chat_id,
            document=path.read_bytes(),
            filename=file_name(numbers),
            caption=caption,
        )


async def deliver_monthly_reports(
    services: ReportServices, bot: ReportBot, month: date, *, keep_going: Callable[[], bool] = lambda: True
) -> Delivery:
    """Sends each principal their school's workbook and township/county officers a summary of their
    area, for the month containing `month`. Safe to call again: recipients already served are skipped
    (the audit log records each delivery), and failed ones are retried by the next call. The audit log
    is not a lock: only one process may call this at a time (the scheduler's leader), and it stops
    before the next recipient once `keep_going()` is false (it stopped leading)."""
    result = Delivery()
    async with services.uow() as uow:
        recipients = await _recipients(uow, month)
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
