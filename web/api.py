"""JSON API for integrations: /api/v1, bearer tokens, scoped exactly like the dashboard."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.security import HTTPBearer

from domain.casework.casefile import CaseFile, TimelineEntry, filter_in_scope, list_cases, open_case_file
from domain.casework.lifecycle import CaseStatus
from domain.errors import NotInScope
from domain.privacy.identity import mask_name
from domain.reports.stats import overview
from storage.reporting import CaseFilter
from web.api_models import (
    CaseDetail,
    CaseEventOut,
    CaseList,
    CaseSummary,
    CategoryCountOut,
    SchoolOverdue,
    Statistics,
    WeekOut,
)
from web.deps import MAX_ID, ApiError, ApiViewer, Viewer
from web.filters import filter_detail

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="Case id")]
HIDDEN_EVENT_DATA = ("location",)  # a visit's GPS point locates the child's home (DOMAIN.md §8)
_bearer = HTTPBearer(auto_error=False, description="A token made with `notoneless user token create`")


async def _case_or_404(viewer: Viewer, case_id: int) -> CaseFile:
    try:
        case_file = await open_case_file(viewer.uow, viewer.scope, viewer.actor, case_id, now=viewer.now)
    except NotInScope:
        await viewer.uow.commit()
        raise ApiError(404, "no such case in your area") from None
    await viewer.uow.commit()
    return case_file


def case_detail(f: CaseFile) -> CaseDetail:
    c, s = f.case, f.student
    return CaseDetail(
        id=c.id,
        number=c.number,
        status=c.status,
        category_scheme=c.category_scheme,
        category_code=c.category_code,
        student_name=mask_name(s.name),
        student_number=f.student_number,
        school=f.school.name if f.school else None,
        class_name=f.school_class.name if f.school_class else None,
        grade=f.school_class.grade if f.school_class else None,
        village=f.village,
        township=f.township,
        kind=c.kind,
        first_absent_on=c.first_absent_on,
        opened_at=c.opened_at,
        updated_at=c.updated_at,
        overdue=f.overdue,
        reason=f.reason,
        responsible_teacher=f.teacher,
        responsible_cadre=f.cadre,
        flags=f.flags,
        visit_due_at=c.visit_due_at,
        verification_due_at=c.verification_due_at,
        return_due_at=c.return_due_at,
        returned_on=c.returned_on,
        closed_at=c.closed_at,
        photos=len(f.attachments),
        next_step=c.next_step,
        next_step_due_at=c.next_step_due_at,
    )


def api_router() -> APIRouter:
    """/api/v1/cases, /api/v1/cases/{id}, /api/v1/cases/{id}/events, /api/v1/statistics."""
    router = APIRouter(
        prefix="/api/v1",
        tags=["api"],
        dependencies=[Depends(_bearer)],
        responses={
            401: {"description": "Missing or invalid bearer token"},
            403: {"description": "The token's owner has no dashboard access"},
        },
    )

    @router.get("/cases", response_model=CaseList, summary="Cases in the token holder's area")
    async def cases(
        viewer: ApiViewer,
        status: Annotated[list[CaseStatus] | None, Query()] = None,
        category: Annotated[
            str | None,
            Query(
                pattern=r"^[a-z0-9_]{1,32}:[A-Za-z0-9_]{1,64}$",
                description="scheme:code, e.g. record_system:A2",
            ),
        ] = None,
        school_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        village_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        key_group: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None,
        overdue: bool = False,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> CaseList:
        scheme, _, code = (category or "").partition(":")
        flt = CaseFilter(
            statuses=frozenset(s.value for s in status or []),
            category=(scheme, code) if category else None,
            school_id=school_id,
            village_id=village_id,
            key_group=key_group,
            overdue=overdue,
        )
        if not await filter_in_scope(viewer.uow, viewer.scope, viewer.actor, flt, now=viewer.now):
            await viewer.uow.commit()
            raise ApiError(404, "no such school or village in your area")
        found = await list_cases(viewer.uow, viewer.scope, flt, now=viewer.now, page=page, per_page=per_page)
        await viewer.record_view("case_list", filter=filter_detail(flt), page=page, rows=len(found.items))
        items = [
            CaseSummary(
                **{k: v for k, v in asdict(i).items() if k not in ("student_label",)},
                student_name=i.student_label,
            )
            for i in found.items
        ]
        return CaseList(total=found.total, page=found.page, per_page=found.per_page, items=items)

    @router.get(
        "/cases/{case_id}",
        response_model=CaseDetail,
        summary="One case",
        responses={404: {"description": "No such case in your area"}},
    )
    async def case(case_id: CaseId, viewer: ApiViewer) -> CaseDetail:
        return case_detail(await _case_or_404(viewer, case_id))

    @router.get(
        "/cases/{case_id}/events",
        response_model=list[CaseEventOut],
        summary="Timeline of a case",
        responses={404: {"description": "No such case in your area"}},
    )
    async def events(case_id: CaseId, viewer: ApiViewer) -> list[CaseEventOut]:
        f = await _case_or_404(viewer, case_id)
        return [event_out(e) for e in f.timeline]

    @router.get("/statistics", response_model=Statistics, summary="Overview numbers of the area")
    async def statistics(viewer: ApiViewer) -> Statistics:
        o = await overview(
            viewer.uow,
            viewer.scope,
            now=viewer.now,
            tz=viewer.services.tz,
            snapshot_max_age=viewer.services.settings.overview_snapshot_max_age,
        )
        await viewer.record_view("overview")
        return Statistics(
            by_status=o.by_status,
            by_category=[CategoryCountOut(**asdict(c)) for c in o.by_category],
            overdue_by_school=[
                SchoolOverdue(school_id=i, school=n, overdue=c) for i, n, c in o.overdue_by_school
            ],
            weeks=[WeekOut(**asdict(w)) for w in o.weeks],
            open_total=o.open_total,
            overdue_total=o.overdue_total,
            enrolled=o.enrolled,
            dropped_out=o.dropped_out,
            out_of_school=o.out_of_school,
            retention_rate=o.retention_rate,
            as_of=o.as_of,
        )

    return router


def event_out(e: TimelineEntry) -> CaseEventOut:
    """A timeline entry as the API shows it (visit locations left out, DOMAIN.md §8)."""
    return CaseEventOut(
        id=e.event.id,
        kind=e.event.kind,
        occurred_at=e.event.occurred_at,
        recorded_at=e.event.recorded_at,
        actor=e.actor,
        from_status=e.event.from_status,
        to_status=e.event.to_status,
        data={k: v for k, v in e.data.items() if k not in HIDDEN_EVENT_DATA},
    )
