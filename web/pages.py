"""Dashboard pages: overview, case list, case file and staff."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from domain.calendar.coverage import missing_holiday_years
from domain.casework.casefile import filter_in_scope, list_cases
from domain.people.roles import Role
from domain.reports.confirmations import missing_reports
from domain.reports.stats import OVERDUE_RULES, overview
from domain.school_age.status import STATUSES as STATUSES_OF_CHILDREN
from domain.school_age.status import percent
from storage.reporting import ReportingRepository
from web.chart import weekly_chart
from web.deps import CurrentViewer, Viewer
from web.filters import STATUSES, filter_detail, filter_query, page_number, parse_filter
from web.render import render
from web.school_age import overview_figures

CATEGORY_SCHEMES = ("record_system", "verification_2019")
PER_PAGE = 50


async def filter_options(viewer: Viewer) -> dict[str, object]:
    """Choices of the filter form, limited to the viewer's area."""
    repo = ReportingRepository(viewer.uow.session)
    categories = [c for scheme in CATEGORY_SCHEMES for c in await viewer.uow.codes.scheme(scheme, False)]
    return {
        "statuses": STATUSES,
        "categories": categories,
        "schools": await repo.schools(viewer.scope),
        "villages": await repo.villages(viewer.scope),
        "key_groups": await viewer.uow.codes.scheme("key_group"),
    }


# Who follows up schools' monthly reports: officers above the schools (and the administrator). City and
# province officers see the unconfirmed reports in their term and year reviews instead: a list of every
# school of a province on each overview would be too long to read.
OFFICER_ROLES = frozenset({Role.TOWNSHIP_OFFICER.value, Role.COUNTY_OFFICER.value, Role.ADMIN.value})
# Who is told that the school calendar lacks a year's public holidays: those who can have it added.
CALENDAR_KEEPERS = frozenset({Role.COUNTY_OFFICER.value, Role.ADMIN.value})


def pages_router() -> APIRouter:
    """The HTML pages; every one needs a coordinator's session and shows only their area."""
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboard")
    async def overview_page(request: Request, viewer: CurrentViewer) -> Response:
        numbers = await overview(
            viewer.uow,
            viewer.scope,
            now=viewer.now,
            tz=viewer.services.tz,
            snapshot_max_age=viewer.services.settings.overview_snapshot_max_age,
        )
        missing = None
        if viewer.identity.staff.role in OFFICER_ROLES:
            missing = await missing_reports(
                viewer.uow, viewer.scope, now=viewer.now, tz=viewer.services.tz, policy=viewer.services.policy
            )
        school_age = await overview_figures(viewer)
        calendar_missing: list[int] = []
        if viewer.identity.staff.role in CALENDAR_KEEPERS:
            today = viewer.now.astimezone(viewer.services.tz).date()
            calendar_missing = missing_holiday_years(viewer.services.policy, today)
        await viewer.record_view("overview")
        return render(
            request,
            "overview.html",
            language=viewer.language,
            viewer=viewer,
            nav="overview",
            o=numbers,
            chart=weekly_chart(numbers.weeks),
            statuses=STATUSES,
            missing=missing,
            school_age=school_age,
            school_age_statuses=STATUSES_OF_CHILDREN,
            percent=percent,
            calendar_missing=calendar_missing,
        )

    @router.get("/cases")
    async def case_list(request: Request, viewer: CurrentViewer) -> Response:
        flt = parse_filter(request.query_params)
        if not await filter_in_scope(viewer.uow, viewer.scope, viewer.actor, flt, now=viewer.now):
            await viewer.deny()
        page = await list_cases(
            viewer.uow,
            viewer.scope,
            flt,
            now=viewer.now,
            page=page_number(request.query_params),
            per_page=PER_PAGE,
            full_names=viewer.services.settings.show_full_student_names,
        )
        await viewer.record_view("case_list", filter=filter_detail(flt), page=page.page, rows=len(page.items))
        return render(
            request,
            "cases.html",
            language=viewer.language,
            viewer=viewer,
            nav="cases",
            page=page,
            flt=flt,
            query=filter_query(flt),
            options=await filter_options(viewer),
            page_link=lambda n: "/cases?" + filter_query(flt, page=n),
        )

    @router.get("/staff")
    async def staff_page(request: Request, viewer: CurrentViewer) -> Response:
        rows = await ReportingRepository(viewer.uow.session).staff_overview(
            viewer.scope, viewer.now, OVERDUE_RULES
        )
        schools = {s.id: s.name for s in await ReportingRepository(viewer.uow.session).schools(viewer.scope)}
        areas = {a.id: a.name for a in await viewer.uow.directory.areas()}
        await viewer.record_view("staff_overview", rows=len(rows))
        return render(
            request,
            "staff.html",
            language=viewer.language,
            viewer=viewer,
            nav="staff",
            rows=rows,
            schools=schools,
            areas=areas,
        )

    return router
