"""The workbook of the 一季度一复核: one row per school with totals, the county's sign-off block, the
schools' monthly reports not confirmed, and the 失学 children per township. Its sheets serve the term and
year reviews too (domain.reports.area_review_workbook), with more area columns before the school."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.reports.quarterly_review import FIGURES, QuarterlyReview, SchoolReview
from domain.reports.sheets import Column, Sheet, SignOff, write_xlsx
from domain.school_age.out_of_school_figures import FIGURES as OUT_OF_SCHOOL_FIGURES
from i18n import t

LANGUAGE = "zh_CN"  # the review is filed with the county in the official (Chinese) layout
_COLUMNS = {"school": (20, "text"), "seq": (6, "int")}  # area columns: (12, "text"); others: (12, "int")
AREA_LEVELS = ("township",)  # the quarterly review's area column before the school


def column(key: str) -> Column:
    """A column of the review sheets by key: seq, an area level, school, month or a figure."""
    if key in ("province", "city", "county", "township"):
        return Column(t(LANGUAGE, f"quarterly.col.{key}"), 12, "text")
    if key == "month":
        return Column(t(LANGUAGE, "quarterly.col.month"), 10)
    return Column(t(LANGUAGE, f"quarterly.col.{key}"), *_COLUMNS.get(key, (12, "int")))


def area_names(school: SchoolReview, levels: Sequence[str]) -> list[str]:
    return [school.areas.get(level) or t(LANGUAGE, "quarterly.no_area") for level in levels]


def school_sheet(
    review: QuarterlyReview, signoff: SignOff | None, levels: Sequence[str] = AREA_LEVELS, title: str = ""
) -> Sheet:
    """One row per school (its areas by `levels`, outermost first), then the totals."""
    keys = ["seq", *levels, "school", *FIGURES, "reports_due"]

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for seq, s in enumerate(review.schools, start=1):
            figures = (getattr(s, k) for k in FIGURES)
            yield [seq, *area_names(s, levels), s.school_name, *figures, s.reports_due]
        yield [
            None,
            *(None for _ in levels),
            t(LANGUAGE, "quarterly.total"),
            *(review.total(k) for k in FIGURES),
            review.total("reports_due"),
        ]

    return Sheet(
        title=title or t(LANGUAGE, "quarterly.sheet"),
        columns=[column(k) for k in keys],
        rows=rows(),
        signoff=signoff,
    )


def missing_sheet(review: QuarterlyReview, levels: Sequence[str] = AREA_LEVELS) -> Sheet:
    """Each school and month whose monthly report was not confirmed."""

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for s in review.schools:
            for month in s.unconfirmed:
                yield [*area_names(s, levels), s.school_name, f"{month:%Y-%m}"]

    return Sheet(
        title=t(LANGUAGE, "quarterly.missing_sheet"),
        columns=[column(k) for k in (*levels, "school", "month")],
        rows=rows(),
    )


def out_of_school_sheet(review: QuarterlyReview) -> Sheet:
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


def signoff(review: QuarterlyReview, reported_on: date, kind: str = "quarterly", period: str = "") -> SignOff:
    """The reviewing bureau signs and stamps its review; the people sign by hand. `kind` names the unit
    and period lines (复核 / 调研 / 评估)."""
    return SignOff(
        lines=[
            (t(LANGUAGE, f"{kind}.signoff.unit"), review.area_name),
            (t(LANGUAGE, f"{kind}.signoff.period"), period or review.period.label),
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
    await write_xlsx(
        path,
        [
            school_sheet(review, signoff(review, reported_on)),
            missing_sheet(review),
            out_of_school_sheet(review),
        ],
        tz,
    )


def file_name(review: QuarterlyReview) -> str:
    return f"{t(LANGUAGE, 'quarterly.title')}_{review.area_name}_{review.period.label}.xlsx"
