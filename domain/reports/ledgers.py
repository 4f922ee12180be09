"""The county ledgers (DOMAIN.md §2, §6): 疑似辍学学生台账, 辍学学生台账 and 劝返复学记录, as .xlsx or CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.lifecycle import DROPOUT_LEDGER, SUSPECTED_LEDGER
from domain.privacy.identity import mask_id, mask_phone, mask_student_number
from domain.privacy.pii_text import mask_identifiers
from domain.reports.ledger_text import (
    LEDGER_LANGUAGE,
    MEASURE_KINDS,
    MEASURE_STATUSES,
    VERIFICATION_DECISIONS,
    VERIFICATION_RESETS,
    LedgerLabels,
    iso_date,
    measures,
    verification,
    visit_count,
    whereabouts,
)
from domain.reports.sheets import Column, Sheet, write_csv, write_xlsx
from domain.reports.stats import OVERDUE_RULES
from domain.school_age.school_roll import NOT_SHOWN, is_placeholder
from i18n import t
from storage.ledger_queries import LedgerQueries
from storage.reporting import CaseFilter
from storage.scope import Scope
from storage.uow import UnitOfWork

KINDS = ("suspected", "dropout", "persuasion")
FORMATS = ("xlsx", "csv")
_PUPIL = [
    ("seq", 6, "int"),
    ("case_number", 14, "text"),
    ("school", 22, "text"),
    ("grade", 6, "int"),
    ("class", 12, "text"),
    ("name", 10, "text"),
]
# DOMAIN.md §6: registration place vs current address, guardian, first absence date.
_IDENTITY = [
    ("sex", 6, "text"),
    ("birth_date", 12, "date"),
    ("student_number", 22, "text"),
    ("national_id", 22, "text"),
    ("village", 12, "text"),
    ("registered_residence", 24, "text"),
    ("current_address", 24, "text"),
    ("guardian", 10, "text"),
    ("relation", 8, "text"),
    ("guardian_phone", 15, "text"),
    ("first_absent_on", 12, "date"),
]
_CLASSIFIED = [
    ("status", 14, "text"),
    ("category_code", 8, "text"),
    ("category", 16, "text"),
    ("reason", 30, "text"),
    ("whereabouts", 24, "text"),
    ("flags", 26, "text"),
]
_RESPONSIBLE = [("teacher", 10, "text"), ("cadre", 10, "text")]
# 辍学 | 失学, last: one ledger of 疑似辍学(失学) children, as the 2024 notice names it, the kind told apart
# (a 失学 child, never enrolled, reads "—/未入学" for the school and "—" for the 学籍号).
CASE_KIND = ("case_kind", 8, "text")
COLUMNS: dict[str, list[tuple[str, int, str]]] = {
    "suspected": [
        *_PUPIL,
        *_IDENTITY,
        ("days_absent", 8, "int"),
        *_CLASSIFIED,
        ("verification", 36, "text"),
        *_RESPONSIBLE,
        ("opened_on", 12, "date"),
        ("verification_due", 12, "date"),
        ("updated_at", 17, "datetime"),
        CASE_KIND,
    ],
    "dropout": [
        *_PUPIL,
        *_IDENTITY,
        ("dropped_out_on", 12, "date"),
        *_CLASSIFIED,
        ("persuasion_count", 8, "int"),
        ("last_persuasion", 12, "date"),
        ("measures", 40, "text"),
        ("notice_return_due", 12, "date"),
        ("returned_on", 12, "date"),
        ("closed_on", 12, "date"),
        *_RESPONSIBLE,
        ("opened_on", 12, "date"),
        ("updated_at", 17, "datetime"),
        CASE_KIND,
    ],
    "persuasion": [
        *_PUPIL,
        ("student_number", 22, "text"),
        ("attempt", 6, "int"),
        ("visit_date", 12, "date"),
        ("visitors", 20, "text"),
        ("method", 8, "text"),
        ("met", 10, "text"),
        ("outcome", 14, "text"),
        ("promised_return_on", 12, "date"),
        ("notice_served", 8, "text"),
        ("note", 30, "text"),
        ("case_status", 14, "text"),
        ("recorder", 10, "text"),
        ("recorded_at", 17, "datetime"),
        CASE_KIND,
    ],
}

# Columns that carry what people typed (the report's note, a visit's outcome detail or note, a decision's
# note or proof): ID and mobile numbers in them are masked outside authorised exports.
FREE_TEXT = frozenset({"reason", "whereabouts", "verification", "note"})


def columns(kind: str, language: str = LEDGER_LANGUAGE) -> list[Column]:
    return [Column(t(language, f"ledger.col.{key}"), width, k) for key, width, k in COLUMNS[kind]]


def title(kind: str, language: str = LEDGER_LANGUAGE) -> str:
    return t(language, f"ledger.{kind}.title")


def _record_number(number: str, lb: LedgerLabels) -> str:
    """The 学籍号 (masked unless authorised); "—" for a 失学 child, whose internal number is none."""
    if is_placeholder(number):
        return NOT_SHOWN
    return number if lb.pii else mask_student_number(number)


def _identity_cells(row: Any, lb: LedgerLabels) -> list[Any]:
    number, nid, phone = _record_number(row.student_number, lb), row.national_id, row.guardian_phone
    if not lb.pii:
        nid, phone = mask_id(nid), mask_phone(phone)
    return [
        lb.t(f"ledger.sex.{row.sex}", row.sex),
        row.birth_date,
        number,
        nid or "",
        row.village or "",
        lb.address(row.registered_residence),
        lb.address(row.current_address),
        row.guardian_name or "",
        row.guardian_relation or "",
        phone or "",
        row.first_absent_on,
    ]


def _pupil(seq: int, r: Any, lb: LedgerLabels) -> list[Any]:
    """Sequence, case, school, grade, class, name: a 失学 child's school reads "—/未入学"."""
    school = r.school if r.school is not None else lb.t("out_of_school.no_school")
    return [seq, r.number, school, r.grade, r.class_name or "", r.name]


def _kind(r: Any, lb: LedgerLabels) -> str:
    return lb.t(f"out_of_school.kind.{r.case_kind}", r.case_kind)


def _head(seq: int, r: Any, lb: LedgerLabels) -> list[Any]:
    return [*_pupil(seq, r, lb), *_identity_cells(r, lb)]


def _classified(r: Any, lb: LedgerLabels) -> list[Any]:
    category = lb.code(r.category_scheme, r.category_code)
    return [
        lb.t(f"status.{r.status}", r.status),
        r.category_code or "",
        category,
        r.reason or "",
        whereabouts(lb, r.status, r.returned_on, r.visit, category),
        lb.flags(r.flags),
    ]


async def _suspected_rows(stream: AsyncIterator[Any], lb: LedgerLabels) -> AsyncIterator[Sequence[Any]]:
    seq = 0
    async for r in stream:
        seq += 1
        yield [
            *_head(seq, r, lb),
            (lb.today - r.first_absent_on).days if r.first_absent_on else None,
            *_classified(r, lb),
            verification(lb, r.decision_kind, r.decision),
            r.teacher or "",
            r.cadre or "",
            lb.local_date(r.opened_at),
            lb.local_date(r.verification_due_at),
            r.updated_at,
            _kind(r, lb),
        ]


async def _dropout_rows(stream: AsyncIterator[Any], lb: LedgerLabels) -> AsyncIterator[Sequence[Any]]:
    seq = 0
    async for r in stream:
        seq += 1
        yield [
            *_head(seq, r, lb),
            lb.local_date(r.entered_at),
            *_classified(r, lb),
            visit_count(r.events),
            iso_date(r.visit.get("visited_on")) if isinstance(r.visit, Mapping) else None,
            measures(lb, r.events),
            lb.local_date(r.return_due_at),
            r.returned_on,
            lb.local_date(r.closed_at),
            r.teacher or "",
            r.cadre or "",
            lb.local_date(r.opened_at),
            r.updated_at,
            _kind(r, lb),
        ]


async def _visit_rows(stream: AsyncIterator[Any], lb: LedgerLabels) -> AsyncIterator[Sequence[Any]]:
    seq = 0
    async for r in stream:
        seq += 1
        data = r.data or {}
        number = _record_number(r.student_number, lb)
        visitors = "、".join(
            lb.staff.get(i, f"#{i}") for i in data.get("visitors") or [] if isinstance(i, int)
        )
        yield [
            *_pupil(seq, r, lb),
            number,
            int(r.attempt),
            iso_date(data.get("visited_on")) or lb.local_date(r.occurred_at),
            visitors,
            lb.mode(data),
            lb.t(f"ledger.met.{data.get('met')}", str(data.get("met") or "")),
            lb.t(f"ledger.outcome.{data.get('outcome')}", str(data.get("outcome") or "")),
            iso_date(data.get("promised_return_on")),
            lb.t("ledger.yes") if data.get("notice_served") else lb.t("ledger.no"),
            str(data.get("note") or data.get("outcome_detail") or data.get("other_school") or ""),
            lb.t(f"status.{r.status}", r.status),
            r.recorder or "",
            r.recorded_at,
            _kind(r, lb),
        ]


async def _masked(rows: AsyncIterator[Sequence[Any]], kind: str) -> AsyncIterator[Sequence[Any]]:
    """Rows with ID and mobile numbers masked in the free-text columns (notes, outcome details, proofs
    may hold them, and a masked ledger shows none); only those, as a 100 000-row export pays per cell."""
    free = [i for i, (key, _, _) in enumerate(COLUMNS[kind]) if key in FREE_TEXT]
    async for row in rows:
        cells = list(row)
        for i in free:
            if isinstance(cells[i], str):
                cells[i] = mask_identifiers(cells[i])
        yield cells


async def ledger_sheet(
    uow: UnitOfWork, scope: Scope, kind: str, flt: CaseFilter, *, now: datetime, tz: ZoneInfo, pii: bool
) -> Sheet:
    """The rows of one ledger as a lazily streamed sheet. The suspected-dropout ledger lists the cases
    now in SUSPECTED_LEDGER; the dropout ledger every case that ever entered DROPOUT_LEDGER, returned,
    cleared and closed ones included (动态销号 leaves the row, with its 复学/销号 dates)."""
    queries = LedgerQueries(uow.session)
    labels = LedgerLabels(
        codes=await queries.code_labels(),
        staff=await queries.staff_names(),
        pii=pii,
        tz=tz,
        today=now.astimezone(tz).date(),
    )
    rows: AsyncIterator[Sequence[Any]]
    if kind == "persuasion":
        rows = _visit_rows(queries.stream_visits(scope, flt, now, OVERDUE_RULES), labels)
    elif kind == "suspected":
        decisions = {*VERIFICATION_DECISIONS, *VERIFICATION_RESETS}
        stream = queries.stream_suspected(
            scope, flt, now, OVERDUE_RULES, statuses=SUSPECTED_LEDGER, decisions=decisions
        )
        rows = _suspected_rows(stream, labels)
    else:
        stream = queries.stream_entered(
            scope,
            flt,
            now,
            OVERDUE_RULES,
            statuses=DROPOUT_LEDGER,
            measure_kinds=MEASURE_KINDS,
            measure_statuses=MEASURE_STATUSES,
        )
        rows = _dropout_rows(stream, labels)
    return Sheet(title=title(kind), columns=columns(kind), rows=rows if pii else _masked(rows, kind))


async def export_ledger(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    kind: str,
    fmt: str,
    path: Path,
    flt: CaseFilter,
    *,
    now: datetime,
    tz: ZoneInfo,
    pii: bool,
) -> int:
    """Writes the ledger to `path` and audits the export; returns the number of rows. Caller commits."""
    if kind not in KINDS or fmt not in FORMATS:
        raise ValueError(f"unknown ledger {kind}.{fmt}")
    sheet = await ledger_sheet(uow, scope, kind, flt, now=now, tz=tz, pii=pii)
    count = await (write_xlsx(path, [sheet], tz) if fmt == "xlsx" else write_csv(path, sheet, tz))
    audit(
        uow,
        actor,
        now,
        "export",
        "ledger",
        kind,
        format=fmt,
        rows=count,
        pii=pii,
        school=flt.school_id,
        village=flt.village_id,
    )
    return count


def file_name(kind: str, fmt: str, today: date) -> str:
    return f"{title(kind)}_{today:%Y%m%d}.{fmt}"
