"""失学 on the dashboard: the form a township or county officer fills in for a school-age child found on
no school roll on a door-to-door canvass (铁脚板摸排). It opens a suspected 失学 case owned by the
township officer with the village cadre (domain.school_age.out_of_school). The POST carries the CSRF token; a
village outside the officer's area is 404; a refused value re-shows the form with the reason."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from domain.casework.casefile import CaseFile
from domain.casework.decisions import NotAllowed
from domain.casework.lifecycle import CaseStatus, can_transition
from domain.errors import InvalidInput, NotInScope
from domain.people.roles import Role
from domain.school_age.enrolment import ENROL_ROLES, enrol_child
from domain.school_age.out_of_school import ERROR, SEXES, OutOfSchoolChild, open_out_of_school_case
from domain.school_age.school_roll import OUT_OF_SCHOOL
from storage.models import Area
from web.deps import CsrfViewer, CurrentViewer, PageError, Viewer, existing_id
from web.render import SECURITY_HEADERS, render

MAX_FIELD = 600
# Who registers a child found on a canvass: the township (which owns 失学 cases) and the county.
# Village cadres have no dashboard login (they use the bot); principals and teachers have no village.
REGISTRARS = frozenset({Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER, Role.ADMIN})


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return str(value)[:MAX_FIELD].strip() if isinstance(value, str) else ""


def child_from_form(form: FormData) -> OutOfSchoolChild:
    """The typed child, or InvalidInput when a date or the village cannot be read."""
    try:
        born = date.fromisoformat(_text(form, "birth_date"))
    except ValueError:
        raise InvalidInput(ERROR + "birth_date") from None
    village = _text(form, "village")
    if not (village.isdigit() and len(village) < 10):
        raise InvalidInput(ERROR + "not_village")
    return OutOfSchoolChild(
        name=_text(form, "name"),
        sex=_text(form, "sex"),
        birth_date=born,
        national_id=_text(form, "national_id") or None,
        village_id=int(village),
        registered_address=_text(form, "registered_address") or None,
        current_address=_text(form, "current_address") or None,
    )


async def _villages(viewer: Viewer) -> list[Area]:
    areas = await viewer.uow.directory.areas()
    scope = viewer.scope
    return [a for a in areas if a.level == "village" and (scope.everything or a.id in scope.village_ids)]


async def enrolment_classes(viewer: Viewer, f: CaseFile) -> list[tuple[int, str]]:
    """(class id, "school · class") the viewer may enrol the case's child in; empty when the case is not
    a 失学 child's awaiting enrolment or the viewer does not record enrolments."""
    staff = viewer.identity.staff
    if (
        f.case.kind != OUT_OF_SCHOOL
        or f.school is not None
        or Role(staff.role) not in ENROL_ROLES
        or not can_transition(f.case.status, CaseStatus.RETURNED)
    ):
        return []
    schools = {s.id: s for s in await viewer.uow.directory.schools()}
    scope = viewer.scope
    return [
        (c.id, f"{schools[c.school_id].name} · {c.name}")
        for c in await viewer.uow.directory.classes()
        if c.school_id in schools and (scope.everything or c.school_id in scope.school_ids)
    ]


def _allowed(viewer: Viewer) -> None:
    if Role(viewer.identity.staff.role) not in REGISTRARS:
        raise PageError(403)


async def _form(
    request: Request, viewer: Viewer, values: dict[str, str], message: str | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "out_of_school.html",
        language=viewer.language,
        viewer=viewer,
        nav="cases",
        villages=await _villages(viewer),
        sexes=SEXES,
        v=values,
        message=message,
        status_code=status,
    )


def out_of_school_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/out-of-school/new")
    async def new(request: Request, viewer: CurrentViewer) -> Response:
        _allowed(viewer)
        await viewer.record_view("out_of_school_form")
        return await _form(request, viewer, {})

    @router.post("/out-of-school")
    async def register(request: Request, viewer: CsrfViewer) -> Response:
        _allowed(viewer)
        form = await request.form()
        # What the officer typed, shown again if refused (the page is theirs; nothing is logged).
        values = {k: _text(form, k) for k in ("name", "sex", "birth_date", "national_id", "village")}
        values |= {k: _text(form, k) for k in ("registered_address", "current_address")}
        services = viewer.services
        try:
            case = await open_out_of_school_case(
                viewer.uow,
                viewer.actor,
                child_from_form(form),
                now=viewer.now,
                policy=services.policy,
                tz=services.tz,
                scope=viewer.scope,
                found_by="canvass",
            )
        except NotInScope:
            await viewer.deny()
        except InvalidInput as exc:
            await viewer.discard()
            return await _form(request, viewer, values, viewer.t(exc.code, **exc.params), 422)
        await viewer.uow.commit()
        response = RedirectResponse(f"/cases/{case.id}", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    @router.post("/cases/{case_id}/enrolment")
    async def enrol(request: Request, case_id: int, viewer: CsrfViewer) -> Response:
        from web.casework import case_page  # that module shows this one's enrolment form

        form = await request.form()
        services = viewer.services
        try:
            chosen = _text(form, "class")
            if not (chosen.isdigit() and len(chosen) < 10):
                raise InvalidInput(ERROR + "class")
            try:
                enrolled_on = date.fromisoformat(_text(form, "enrolled_on"))
            except ValueError:
                raise InvalidInput(ERROR + "enrolled_on") from None
            await enrol_child(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                viewer.identity.staff,
                existing_id(case_id),
                int(chosen),
                enrolled_on,
                now=viewer.now,
                policy=services.policy,
                tz=services.tz,
            )
        except NotInScope:
            await viewer.deny()
        except NotAllowed:
            await viewer.deny(403)
        except InvalidInput as exc:
            await viewer.discard()
            text = viewer.t(exc.code, **exc.params)
            return await case_page(request, viewer, case_id, message=text, error=True, status_code=422)
        await viewer.uow.commit()
        response = RedirectResponse(f"/cases/{case_id}?done=enrolled", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    return router
