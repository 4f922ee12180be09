"""The workbook of the 一季度一复核: one row per school with totals, the county's sign-off block, and the
schools' monthly reports not confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
    await write_xlsx(path, [_review_sheet(review, _signoff(review, reported_on)), _missing_sheet(review)], tz)


def file_name(review: QuarterlyReview) -> str:
    return f"{t(LANGUAGE, 'quarterly.title')}_{review.area_name}_{review.period.label}.xlsx"
