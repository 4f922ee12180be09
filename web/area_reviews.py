"""The exports page's 地市一学期一调研 (/exports/term.xlsx) and 省级一学年一评估 (/exports/year.xlsx)
downloads: for county, city and province officers (and the administrator), of their area or of an area
inside it (`area=<id>`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from domain.errors import NotInScope
from domain.reports.quarterly_review import QuarterlyReview
from domain.reports.review_delivery import REVIEW_ROLES, TERM, YEAR, ReviewKind, export_review
from domain.reports.review_periods import (
    Span,
    default_term,
    find_term,
    school_year,
    school_year_of,
    terms_started,
)
from web.deps import CurrentViewer, PageError, Viewer, existing_id

YEARS_SHOWN = 5  # the school years offered on the page, newest first
AREA_LEVELS = ("province", "city", "county")  # the areas a review may be asked for on the page


def _term(viewer: Viewer, value: str | None) -> Span:
    """A term by its start date (2026-09-01) or name; by default the last one that has ended."""
    policy = viewer.services.policy
    found = find_term(policy, value) if value else default_term(policy, viewer.today)
    if found is None:
        raise PageError(400)
    return found


def _year(viewer: Viewer, value: str | None) -> Span:
    """The school year starting in `value` (2026: 2026-09-01 to 2027-08-31); by default the last one
    that has ended."""
    policy = viewer.services.policy
    if not value:
        return school_year(policy, school_year_of(policy, viewer.today).first.year - 1)
    if not (value.isdigit() and 2000 <= int(value) <= 2100):
        raise PageError(400)
    return school_year(policy, int(value))


def _area(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise PageError(400)
    return existing_id(int(value))


async def review_context(viewer: Viewer) -> dict[str, Any]:
    """What the exports page offers of the term and year reviews: nothing outside REVIEW_ROLES."""
    if viewer.identity.staff.role not in REVIEW_ROLES:
        return {"terms": [], "years": []}
    policy, today = viewer.services.policy, viewer.today
    current = school_year_of(policy, today)
    years = [school_year(policy, current.first.year - i) for i in range(YEARS_SHOWN)]
    chosen = default_term(policy, today)
    areas = [
        a
        for a in await viewer.uow.directory.areas()
        if a.level in AREA_LEVELS and (viewer.scope.everything or a.id in viewer.scope.area_ids)
    ]
    return {
        "terms": terms_started(policy, today),
        "default_term": chosen.first if chosen else None,
        "years": years,
        "default_year": years[1].first.year,
        "year_first": f"{current.first:%m-%d}",
        "review_areas": sorted(areas, key=lambda a: (AREA_LEVELS.index(a.level), a.name, a.id)),
    }


async def _download(
    request: Request, viewer: Viewer, file_response: Any, kind: ReviewKind, period: Span, area: int | None
) -> Response:
    async def write(path: Path) -> QuarterlyReview:
        return await export_review(
            viewer.uow,
            viewer.scope,
            viewer.actor,
            viewer.identity.staff,
            kind,
            period,
            path,
            now=viewer.now,
            tz=viewer.services.tz,
            area_id=area,
        )

    try:
        sent: Response = await file_response(request, viewer, "xlsx", kind.file_name, write)
        return sent
    except NotInScope:
        await viewer.deny(403)


def add_area_review_routes(router: APIRouter, file_response: Any) -> None:
    """GET /exports/term.xlsx and /exports/year.xlsx (before the ledgers' catch-all)."""

    @router.get("/exports/term.xlsx")
    async def term(
        request: Request, viewer: CurrentViewer, term: str | None = None, area: str | None = None
    ) -> Response:
        return await _download(request, viewer, file_response, TERM, _term(viewer, term), _area(area))

    @router.get("/exports/year.xlsx")
    async def year(
        request: Request, viewer: CurrentViewer, year: str | None = None, area: str | None = None
    ) -> Response:
        return await _download(request, viewer, file_response, YEAR, _year(viewer, year), _area(area))
