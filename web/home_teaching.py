"""送教上门 on the dashboard: the plans of pupils in the viewer's area with held vs planned, and the form
that creates or edits a pupil's plan (one per child). POSTs carry the CSRF token; a pupil or plan outside
the area is 404; a refused value re-shows the form with the reason in the viewer's language."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from domain.errors import InvalidInput, NotInScope
from domain.home_teaching.ledger import FORMATS, export_home_teaching_ledger, file_name, ledger_rows
from domain.home_teaching.plans import CADENCES, PlanInput, plan_teachers, save_plan
from domain.home_teaching.reminders import plan_home_teaching_reminders
from domain.privacy.identity import mask_name
from storage import home_teaching as store
from storage.models import HomeTeachingPlan, Student
from web.deps import CsrfViewer, CurrentViewer, PageError, Viewer, existing_id
from web.exports import file_response
from web.render import SECURITY_HEADERS, render

MAX_FIELD = 600


def _redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return str(value)[:MAX_FIELD].strip() if isinstance(value, str) else ""


def _int(form: FormData, name: str) -> int:
    try:
        return int(_text(form, name))
    except ValueError:
        raise InvalidInput("home_teaching.error.form") from None


def _day(form: FormData, name: str, required: bool = True) -> date | None:
    value = _text(form, name)
    if not value and not required:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("home_teaching.error.form") from None


def plan_from_form(form: FormData, student_id: int) -> PlanInput:
    teacher_ids = []
    for value in form.getlist("teacher")[:20]:
        if not (isinstance(value, str) and value.isdigit() and len(value) < 10):
            raise InvalidInput("home_teaching.error.form")
        teacher_ids.append(int(value))
    starts_on, review_on = _day(form, "starts_on"), _day(form, "review_on")
    assert starts_on is not None and review_on is not None
    return PlanInput(
        student_id=student_id,
        teacher_ids=teacher_ids,
        cadence=_text(form, "cadence"),
        sessions_per_period=_int(form, "sessions_per_period"),
        minutes_per_session=_int(form, "minutes_per_session"),
        content_areas=_text(form, "content_areas"),
        starts_on=starts_on,
        review_on=review_on,
        ends_on=_day(form, "ends_on", required=False),
        assessment_ref=_text(form, "assessment_ref"),
        active=form.get("active") == "on",
    )


def _label(viewer: Viewer, student: Student) -> str:
    name = student.name if viewer.services.settings.show_full_student_names else mask_name(student.name)
    return f"{name} · …{student.student_number[-4:]}"


async def plan_form(
    request: Request,
    viewer: Viewer,
    student: Student,
    plan: HomeTeachingPlan | None,
    *,
    values: PlanInput | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    today = viewer.now.astimezone(viewer.services.tz).date()
    shown = values or (
        PlanInput(
            student_id=student.id,
            teacher_ids=list(plan.teacher_ids),
            cadence=plan.cadence,
            sessions_per_period=plan.sessions_per_period,
            minutes_per_session=plan.minutes_per_session,
            content_areas=plan.content_areas,
            starts_on=plan.starts_on,
            review_on=plan.review_on,
            ends_on=plan.ends_on,
            assessment_ref=plan.assessment_ref,
            active=plan.active,
        )
        if plan is not None
        else PlanInput(student.id, [], "week", 1, 60, "", today, today + timedelta(days=180), "")
    )
    return render(
        request,
        "home_teaching_plan.html",
        language=viewer.language,
        viewer=viewer,
        nav="home_teaching",
        pupil=_label(viewer, student),
        student=student,
        plan=plan,
        v=shown,
        teachers=await plan_teachers(viewer.uow, student),
        cadences=CADENCES,
        message=message,
        status_code=status_code,
    )


def home_teaching_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/home-teaching")
    async def plans(request: Request, viewer: CurrentViewer) -> Response:
        today = viewer.now.astimezone(viewer.services.tz).date()
        rows = await ledger_rows(viewer.uow, viewer.scope, as_of=today)
        await viewer.record_view("home_teaching_plans", rows=len(rows))
        full = viewer.services.settings.show_full_student_names
        return render(
            request,
            "home_teaching.html",
            language=viewer.language,
            viewer=viewer,
            nav="home_teaching",
            rows=rows,
            pupil=lambda r: (
                (r.pupil_name if full else mask_name(r.pupil_name)) + f" · …{r.student_number[-4:]}"
            ),
            done=request.query_params.get("done") == "saved",
            missing=request.query_params.get("missing") == "1",
        )

    @router.get("/home-teaching/new")
    async def new_plan(request: Request, viewer: CurrentViewer) -> Response:
        number = str(request.query_params.get("student_number") or "")[:32].strip()
        student = await viewer.uow.students.by_number(number) if number else None
        if student is None or await viewer.uow.students.in_scope(viewer.scope, student.id) is None:
            return _redirect("/home-teaching?missing=1")
        plan = await store.plan_of_student(viewer.uow.session, student.id)
        if plan is not None:
            return _redirect(f"/home-teaching/{plan.id}")
        await viewer.record_view("home_teaching_plan", student_id=student.id)
        return await plan_form(request, viewer, student, None)

    @router.get("/home-teaching/ledger.{fmt}")
    async def ledger(request: Request, fmt: str, viewer: CurrentViewer) -> Response:
        if fmt not in FORMATS:
            raise PageError(404)
        today = viewer.now.astimezone(viewer.services.tz).date()

        async def write(path: Path) -> int:
            return await export_home_teaching_ledger(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                fmt,
                path,
                now=viewer.now,
                tz=viewer.services.tz,
                pii=viewer.identity.can_export_pii,
            )

        return await file_response(request, viewer, fmt, lambda _rows: file_name(fmt, today), write)

    @router.get("/home-teaching/{plan_id}")
    async def edit_plan(request: Request, plan_id: int, viewer: CurrentViewer) -> Response:
        plan = await store.plan(viewer.uow.session, existing_id(plan_id))
        student = await viewer.uow.students.in_scope(viewer.scope, plan.student_id) if plan else None
        if plan is None or student is None:
            await viewer.deny()
        await viewer.record_view("home_teaching_plan", plan_id=plan.id)
        return await plan_form(request, viewer, student, plan)

    @router.post("/home-teaching/students/{student_id}")
    async def save(request: Request, student_id: int, viewer: CsrfViewer) -> Response:
        student = await viewer.uow.students.in_scope(viewer.scope, existing_id(student_id))
        if student is None:
            await viewer.deny()
        plan = await store.plan_of_student(viewer.uow.session, student.id)
        form = await request.form()
        values: PlanInput | None = None
        try:
            values = plan_from_form(form, student.id)
            saved = await save_plan(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                viewer.identity.staff.role,
                values,
                now=viewer.now,
            )
            services = viewer.services
            await plan_home_teaching_reminders(
                viewer.uow, saved, policy=services.policy, now=viewer.now, tz=services.tz
            )
        except NotInScope:
            await viewer.deny(403)
        except InvalidInput as exc:
            await viewer.discard()  # rows read before are expired now: read them again
            student = await viewer.uow.students.get(student_id)
            plan = await store.plan_of_student(viewer.uow.session, student_id)
            assert student is not None
            text = viewer.t(exc.code, **exc.params)
            return await plan_form(
                request, viewer, student, plan, values=values, message=text, status_code=422
            )
        await viewer.uow.commit()
        return _redirect("/home-teaching?done=saved")

    return router
