"""The workbook of the 学校一月一报告: a summary sheet and the pupils in the two ledgers at the end of
the month."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.casework.lifecycle import DROPOUT_LEDGER, SUSPECTED_LEDGER
from domain.home_teaching.ledger import monthly_sheet
from domain.people.roles import Role
from domain.privacy.identity import mask_name, mask_student_number
from domain.reports.monthly_numbers import SUMMARY_ROWS, MonthlyNumbers
from domain.reports.sheets import Column, Sheet, SignOff, write_xlsx
from i18n import t
from storage.ledger_queries import LedgerQueries
from storage.uow import UnitOfWork

LANGUAGE = "zh_CN"  # the report goes to the county in the official (Chinese) layout


def _summary_sheet(numbers: MonthlyNumbers, signoff: SignOff) -> Sheet:
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
        signoff=signoff,
    )


async def _signoff(uow: UnitOfWork, numbers: MonthlyNumbers, reported_on: date) -> SignOff:
    """The school signs and stamps its report; the principal, the school's first responsible person,
    reviews it (DOMAIN.md §1; 000_33cc3c9a67e33d36.txt: 经单位主要负责同志审核、签字、盖章后报县教育局).
    The person filling it in signs by hand."""
    principals = await LedgerQueries(uow.session).school_staff_names(numbers.school_id, Role.PRINCIPAL.value)
    return SignOff(
        lines=[
            (t(LANGUAGE, "ledger.monthly.signoff.unit"), numbers.school_name),
            (t(LANGUAGE, "ledger.monthly.signoff.filled_by"), None),
            (t(LANGUAGE, "ledger.monthly.signoff.reviewed_by"), "、".join(principals) or None),
            (t(LANGUAGE, "ledger.monthly.signoff.date"), reported_on),
        ],
        stamp=t(LANGUAGE, "ledger.monthly.signoff.stamp"),
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
    reported_on: date,
    pii: bool = False,
    masked_names: bool = False,
) -> None:
    """The .xlsx: a summary sheet ending in the sign-off block (dated `reported_on`) and the pupils in
    the two ledgers at the end of the month."""
    signoff = await _signoff(uow, numbers, reported_on)
    detail = await _detail_sheet(uow, numbers, pii=pii, masked_names=masked_names)
    # 送教上门 (domain.home_teaching.ledger): plans of the school, sessions planned vs held in the month.
    home = await monthly_sheet(uow, numbers.school_id, numbers.month, pii=pii, masked_names=masked_names)
    await write_xlsx(path, [_summary_sheet(numbers, signoff), detail, home], tz)


def file_name(numbers: MonthlyNumbers) -> str:
    return f"{t(LANGUAGE, 'ledger.monthly.title')}_{numbers.school_name}_{numbers.month:%Y%m}.xlsx"
