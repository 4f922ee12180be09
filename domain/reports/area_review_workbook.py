"""The workbooks of 一学期一调研 (a city's term) and 一学年一评估 (a province's school year): the sums per
area with the sign-off block, then each school's figures and the monthly reports not confirmed. No pupil
is named, so the workbook is the same for every reader."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.reports.area_review import GROUPS, SCHOOL_LEVELS, SUMMED, group_rows
from domain.reports.quarterly_review import QuarterlyReview
from domain.reports.quarterly_workbook import (
    LANGUAGE,
    column,
    missing_sheet,
    out_of_school_sheet,
    school_sheet,
    signoff,
)
from domain.reports.review_periods import Span
from domain.reports.sheets import Sheet, SignOff, write_xlsx
from i18n import t

KINDS = ("term", "year")


def _summary_sheet(review: QuarterlyReview, kind: str, block: SignOff) -> Sheet:
    outer, inner = GROUPS[kind]

    async def rows() -> AsyncIterator[Sequence[Any]]:
        seq = 0
        for row in group_rows(review, GROUPS[kind], t(LANGUAGE, "quarterly.no_area")):
            if row.inner is None:
                yield [None, row.outer, t(LANGUAGE, "quarterly.subtotal"), row.schools, *row.figures]
            else:
                seq += 1
                yield [seq, row.outer, row.inner, row.schools, *row.figures]
        totals = (review.total(k) for k in SUMMED)
        yield [None, None, t(LANGUAGE, "quarterly.total"), len(review.schools), *totals]

    return Sheet(
        title=t(LANGUAGE, f"{kind}.sheet"),
        columns=[column(k) for k in ("seq", outer, inner, "schools", *SUMMED)],
        rows=rows(),
        signoff=block,
    )


def period_text(review: QuarterlyReview) -> str:
    """The term's name or the school year, with its dates."""
    period = review.period
    return f"{period.label}（{period.dates}）" if isinstance(period, Span) else period.label


async def write_area_review(
    review: QuarterlyReview, kind: str, path: Path, tz: ZoneInfo, *, reported_on: date
) -> None:
    """The .xlsx of a term (`kind` "term") or school year ("year") review."""
    block = signoff(review, reported_on, kind, period_text(review))
    sheets = [
        _summary_sheet(review, kind, block),
        school_sheet(review, None, SCHOOL_LEVELS[kind], t(LANGUAGE, "quarterly.school_sheet")),
        missing_sheet(review, SCHOOL_LEVELS[kind]),
        out_of_school_sheet(review),
    ]
    await write_xlsx(path, sheets, tz)


def file_name(kind: str, review: QuarterlyReview) -> str:
    return f"{t(LANGUAGE, f'{kind}.title')}_{review.area_name}_{review.period.label}.xlsx"
