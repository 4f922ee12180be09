"""The case page and what coordinators do on it: decisions, taking on escalations, key-group flags; and
their to-do list. Every POST carries the session's CSRF token; a case outside the person's area is 404."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from domain.casework.casefile import open_case_file
from domain.casework.decision_offers import FIELDS, offered_decisions
from domain.casework.decisions import Decision, DecisionRefused, NotAllowed, decide
from domain.casework.escalations import AlreadyAcknowledged, EscalationClosed, acknowledge
from domain.casework.student_flags import set_case_flags
from domain.casework.todo import todo
from domain.errors import InvalidInput, NotFound, NotInScope
from domain.people.roles import COORDINATOR_ROLES, Role
from web.deps import CsrfViewer, CurrentViewer, PageError, Viewer, existing_id
from web.out_of_school import enrolment_classes
from web.render import SECURITY_HEADERS, render
from web.timeline import EventDetails

MAX_FIELD = 600  # characters read from a form field; the domain enforces its own limits


def _redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


async def case_page(
    request: Request,
    viewer: Viewer,
    case_id: int,
    *,
    message: str | None = None,
    error: bool = False,
    status_code: int = 200,
) -> Response:
    """The case file with the decisions the viewer may take; `message` reports the last action."""
    try:
        f = await open_case_file(viewer.uow, viewer.scope, viewer.actor, existing_id(case_id), now=viewer.now)
    except NotInScope:
        await viewer.deny()
    await viewer.uow.commit()
    codes = viewer.uow.codes
    flag_codes = list(await codes.scheme("key_group", False))
    category = (
        await codes.get(f.case.category_scheme, f.case.category_code)
        if f.case.category_scheme and f.case.category_code
        else None
    )
    schemes = {scheme: list(await codes.scheme(scheme)) for scheme in ("record_system", "verification_2019")}
    labels = {
        c.code: c
        for scheme in (*schemes, "key_group", "support_measure")
        for c in await codes.scheme(scheme, False)
    }
    details = EventDetails(viewer.language, viewer.services.tz, labels)
    return render(
        request,
        "case.html",
        language=viewer.language,
        viewer=viewer,
        nav="cases",
        f=f,
        flag_labels={c.code: c for c in flag_codes},
        flag_codes=flag_codes,
        category=category,
        decisions=offered_decisions(f.case, viewer.identity.staff),
        # City and province officers read cases; editing key groups and taking on escalations is casework.
        acts=Role(viewer.identity.staff.role) in COORDINATOR_ROLES,
        enrol_classes=await enrolment_classes(viewer, f),
        fields=FIELDS,
        schemes=schemes,
        details=details,
        message=message,
        error=error,
        status_code=status_code,
    )


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return str(value)[:MAX_FIELD] if isinstance(value, str) and value.strip() else None


def _day(form: FormData, name: str) -> date | None:
    value = _text(form, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("due_unreadable") from None


def casework_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/cases/{case_id}")
    async def show(request: Request, case_id: int, viewer: CurrentViewer) -> Response:
        done = request.query_params.get("done", "")
        message = (
            viewer.t(f"web.done.{done}") if done in FIELDS or done in ("acknowledged", "flags") else None
        )
        if done == "enrolled":
            message = viewer.t("out_of_school.enrol.done")
        return await case_page(request, viewer, case_id, message=message)

    @router.post("/cases/{case_id}/decisions")
    async def decision(request: Request, case_id: int, viewer: CsrfViewer) -> Response:
        form = await request.form()
        name = str(form.get("decision") or "")[:40]
        try:
            wanted = Decision(name, code=_text(form, "code"), note=_text(form, "note"), due=_day(form, "due"))
            await decide(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                viewer.identity.staff,
                existing_id(case_id),
                wanted,
                now=viewer.now,
                policy=viewer.services.policy,
                tz=viewer.services.tz,
            )
        except NotInScope:
            await viewer.deny()
        except NotAllowed:
            await viewer.uow.commit()  # keeps the audit entry of the refusal
            return await case_page(
                request,
                viewer,
                case_id,
                message=viewer.t("decision.not_allowed"),
                error=True,
                status_code=403,
            )
        except DecisionRefused as exc:
            await viewer.discard()
            return await case_page(
                request, viewer, case_id, message=refusal_text(viewer, exc), error=True, status_code=409
            )
        except InvalidInput as exc:
            await viewer.discard()
            return await case_page(
                request, viewer, case_id, message=invalid_text(viewer, exc), error=True, status_code=422
            )
        await viewer.uow.commit()
        return _redirect(f"/cases/{case_id}?done={name}#decisions")

    @router.post("/cases/{case_id}/escalations/{escalation_id}/acknowledge")
    async def take_on(request: Request, case_id: int, escalation_id: int, viewer: CsrfViewer) -> Response:
        staff = viewer.identity.staff
        try:
            done = await acknowledge(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                staff,
                existing_id(escalation_id),
                now=viewer.now,
                policy=viewer.services.policy,
                tz=viewer.services.tz,
            )
        except (NotInScope, NotFound):
            await viewer.deny()
        except AlreadyAcknowledged as exc:
            await viewer.discard()
            at = exc.escalation.acknowledged_at
            when = at.astimezone(viewer.services.tz).strftime("%m-%d %H:%M") if at else ""
            text = viewer.t("ack.already", name=exc.by.name if exc.by else "?", at=when)
            return await case_page(request, viewer, case_id, message=text, error=True, status_code=409)
        except EscalationClosed:
            await viewer.discard()
            return await case_page(
                request, viewer, case_id, message=viewer.t("ack.closed"), error=True, status_code=409
            )
        if done.case.id != case_id:
            raise PageError(404)
        await viewer.uow.commit()
        return _redirect(f"/cases/{case_id}?done=acknowledged#escalations")

    @router.post("/cases/{case_id}/flags")
    async def flags(request: Request, case_id: int, viewer: CsrfViewer) -> Response:
        form = await request.form()
        chosen = [str(v)[:64] for v in form.getlist("flag")][:50]
        try:
            await set_case_flags(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                viewer.identity.staff,
                existing_id(case_id),
                chosen,
                now=viewer.now,
            )
        except NotInScope:
            await viewer.deny()
        except InvalidInput as exc:
            await viewer.discard()
            return await case_page(
                request, viewer, case_id, message=invalid_text(viewer, exc), error=True, status_code=422
            )
        await viewer.uow.commit()
        return _redirect(f"/cases/{case_id}?done=flags#pupil")

    @router.get("/todo")
    async def to_do(request: Request, viewer: CurrentViewer) -> Response:
        items = await todo(viewer.uow, viewer.scope, viewer.now)
        await viewer.record_view("todo")
        acts = Role(viewer.identity.staff.role) in COORDINATOR_ROLES  # city/province officers only read
        return render(
            request, "todo.html", language=viewer.language, viewer=viewer, nav="todo", t=items, acts=acts
        )

    return router


def refusal_text(viewer: Viewer, exc: DecisionRefused) -> str:
    """Why the case's state does not allow the decision, in the viewer's language."""
    status, name = str(exc.params.get("status", "")), str(exc.params.get("decision", ""))
    return viewer.t(
        f"decision.refused.{exc.reason}",
        status=viewer.t(f"status.{status}"),
        decision=viewer.t(f"decision.name.{name}"),
    )


def invalid_text(viewer: Viewer, exc: InvalidInput) -> str:
    """A refused value, in the viewer's language (the catalog names every code the decisions raise)."""
    try:
        return viewer.t(f"decision.invalid.{exc.code}", **exc.params)
    except KeyError:
        return viewer.t("decision.invalid.generic")
