"""The workbook of the 一季度一复核: one row per school with totals, the county's sign-off block, the
schools' monthly reports not confirmed, and the 失学 children per township."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.out_of_school_figures import FIGURES as OUT_OF_SCHOOL_FIGURES
from domain.quarterly_review import FIGURES, QuarterlyReview
from domain.sheets import Column, Sheet, SignOff, write_xlsx
from i18n import t

LANGUAGE = "zh_CN"  # the review is filed with the county in the official (Chinese) layout
_COLUMNS = {"school": (20, "text"), "township": (12, "text"), "seq": (6, "int")}  # others: (12, "int")


def _review_sheet(review: QuarterlyReview, signoff: SignOff) -> Sheet:
    keys = ["seq", "township", "school", *FIGURES, "reports_due"]

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for seq, s in enumerate(review.schools, start=1):
            yield [seq, s.township, s.school_name, *(getattr(s, k) for k in FIGURES), s.reports_due]
        yield [
            None,
            None,
            t(LANGUAGE, "quarterly.total"),
            *(review.total(k) for k in FIGURES),
            review.total("reports_due"),
        ]

    return Sheet(
        title=t(LANGUAGE, "quarterly.sheet"),
        columns=[Column(t(LANGUAGE, f"quarterly.col.{k}"), *_COLUMNS.get(k, (12, "int"))) for k in keys],
        rows=rows(),
        signoff=signoff,
    )


def _missing_sheet(review: QuarterlyReview) -> Sheet:
    async def rows() -> AsyncIterator[Sequence[Any]]:
        for s in review.schools:
            for month in s.unconfirmed:
                yield [s.township, s.school_name, f"{month:%Y-%m}"]

    return Sheet(
        title=t(LANGUAGE, "quarterly.missing_sheet"),
        columns=[
            Column(t(LANGUAGE, "quarterly.col.township"), 12),
            Column(t(LANGUAGE, "quarterly.col.school"), 20),
            Column(t(LANGUAGE, "quarterly.col.month"), 10),
        ],
        rows=rows(),
    )


def _out_of_school_sheet(review: QuarterlyReview) -> Sheet:
    """失学 children per township: they have no school, so they are not in the schools' rows."""

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for seq, row in enumerate(review.out_of_school, start=1):
            yield [seq, row.township, *(getattr(row, k) for k in OUT_OF_SCHOOL_FIGURES)]
        yield [
            None,
            t(LANGUAGE, "quarterly.total"),
            *(sum(getattr(r, k) for r in review.out_of_school) for k in OUT_OF_SCHOOL_FIGURES),
        ]

    return Sheet(
        title=t(LANGUAGE, "out_of_school.quarterly.sheet"),
        columns=[
            Column(t(LANGUAGE, "quarterly.col.seq"), 6, "int"),
            Column(t(LANGUAGE, "quarterly.col.township"), 12),
            *(Column(t(LANGUAGE, f"out_of_school.col.{k}"), 12, "int") for k in OUT_OF_SCHOOL_FIGURES),
        ],
        rows=rows(),
    )


def _signoff(review: QuarterlyReview, reported_on: date) -> SignOff:
    """The county bureau signs and stamps its review; the people sign by hand."""
    return SignOff(
        lines=[
            (t(LANGUAGE, "quarterly.signoff.unit"), review.area_name),
            (t(LANGUAGE, "quarterly.signoff.period"), review.period.label),
            (t(LANGUAGE, "quarterly.signoff.filled_by"), None),
            (t(LANGUAGE, "quarterly.signoff.reviewed_by"), None),
            (t(LANGUAGE, "quarterly.signoff.date"), reported_on),
        ],
        stamp=t(LANGUAGE, "quarterly.signoff.stamp"),
    )


async def write_quarterly_review(
    review: QuarterlyReview, path: Path, tz: ZoneInfo, *, reported_on: date
) -> None:
    """The .xlsx: figures per school, totals and the sign-off block, then the unconfirmed reports. No
    pupil appears in it, so it is the same for every reader."""
    sheets = [_review_sheet(review, _signoff(review, reported_on)), _missing_sheet(review)]
    await write_xlsx(path, [*sheets, _out_of_school_sheet(review)], tz)


def file_name(review: QuarterlyReview) -> str:
    return f"{t(LANGUAGE, 'quarterly.title')}_{review.area_name}_{review.period.label}.xlsx"
