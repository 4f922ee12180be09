"""地市一学期一调研 and 省级一学年一评估 (003_ee1c82519c64281c.txt): the quarterly review's per-school
figures (domain.reports.quarterly_review), summed per county and township under it for a city's term, per city
and county under it for a province's school year."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.reports.quarterly_review import FIGURES, QuarterlyReview, SchoolReview

SUMMED = (*FIGURES, "reports_due")
# The area levels each review sums by, outermost first, and the levels its school sheet names.
GROUPS = {"term": ("county", "township"), "year": ("city", "county")}
SCHOOL_LEVELS = {"term": ("county", "township"), "year": ("city", "county", "township")}


@dataclass(frozen=True)
class GroupRow:
    """The sum over `schools` of one inner area (`inner` set) or of a whole outer area (`inner` None:
    the outer area's subtotal, after its inner rows)."""

    outer: str
    inner: str | None
    schools: int
    figures: tuple[int, ...]  # in SUMMED order


def _row(outer: str, inner: str | None, schools: Sequence[SchoolReview]) -> GroupRow:
    return GroupRow(outer, inner, len(schools), tuple(sum(getattr(s, k) for s in schools) for k in SUMMED))


def group_rows(review: QuarterlyReview, levels: tuple[str, str], missing: str = "") -> list[GroupRow]:
    """Per outer area (by name): a row per inner area, then the outer area's subtotal. A school with no
    area of a level (a county without a city) is grouped under `missing`."""
    outer_level, inner_level = levels
    groups: dict[str, dict[str, list[SchoolReview]]] = {}
    for school in review.schools:
        outer = school.areas.get(outer_level) or missing
        groups.setdefault(outer, {}).setdefault(school.areas.get(inner_level) or missing, []).append(school)
    rows = []
    for outer in sorted(groups):
        inner_groups = groups[outer]
        rows += [_row(outer, inner, inner_groups[inner]) for inner in sorted(inner_groups)]
        rows.append(_row(outer, None, [s for schools in inner_groups.values() for s in schools]))
    return rows
