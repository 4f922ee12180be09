"""/api/v1 for coordinators' casework: decisions on a case and escalations, scoped like the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.security import HTTPBearer

from domain.casework.casefile import open_case_file
from domain.casework.decisions import Decision, DecisionRefused, NotAllowed, decide
from domain.casework.escalations import AlreadyAcknowledged, EscalationClosed, acknowledge
from domain.errors import InvalidInput, NotFound, NotInScope
from storage.models import Case, Escalation
from web.api import case_detail, event_out
from web.api_models import DecisionIn, DecisionOut, EscalationOut, Refusal
from web.casework import invalid_text, refusal_text
from web.deps import MAX_ID, ApiError, ApiViewer

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="Case id")]
EscalationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Escalation id")]
_bearer = HTTPBearer(auto_error=False, description="A token made with `notoneless user token create`")
_NOT_IN_AREA = "no such case in your area"


def _escalation_out(e: Escalation, case: Case, by: str | None) -> EscalationOut:
    return EscalationOut(
        id=e.id,
        case_id=case.id,
        case_number=case.number,
        step=e.step,
        level=e.level,
        raised_at=e.raised_at,
        acknowledged_by=by,
        acknowledged_at=e.acknowledged_at,
        resolved_at=e.resolved_at,
    )


def casework_api_router() -> APIRouter:
    """POST /api/v1/cases/{id}/decisions, GET /api/v1/escalations, POST /api/v1/escalations/{id}/acknowledge."""
    router = APIRouter(
        prefix="/api/v1",
        tags=["casework"],
        dependencies=[Depends(_bearer)],
        responses={
            401: {"description": "Missing or invalid bearer token"},
            403: {"description": "The token's owner has no dashboard access"},
        },
    )

    @router.post(
        "/cases/{case_id}/decisions",
        response_model=DecisionOut,
        summary="Decide on a case",
        responses={
            403: {"model": Refusal, "description": "Your role does not make this decision"},
            404: {"description": "No such case in your area"},
            409: {"model": Refusal, "description": "The case's state does not allow it now"},
            422: {"description": "A value is missing or not valid"},
        },
    )
    async def decision(case_id: CaseId, body: DecisionIn, viewer: ApiViewer) -> DecisionOut:
        """Classify (核查定性), clear (核减), mark missing (失踪失联), record a re-check, report upwards
        (上报), order compliance (责令限期改正), refer to the justice route, defer (缓学/免学), propose,
        approve or send back a closing (销号), or reopen. Refused with 409 and a reason when the case's
        state does not allow it."""
        wanted = Decision(body.decision, code=body.code, note=body.note, due=body.due)
        try:
            _, event = await decide(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                viewer.identity.staff,
                case_id,
                wanted,
                now=viewer.now,
                policy=viewer.services.policy,
                tz=viewer.services.tz,
            )
        except NotInScope:
            await viewer.uow.commit()  # keeps the audit entry of the refusal
            raise ApiError(404, _NOT_IN_AREA) from None
        except NotAllowed:
            await viewer.uow.commit()
            raise ApiError(403, viewer.t("decision.not_allowed"), "role") from None
        except DecisionRefused as exc:
            raise ApiError(409, refusal_text(viewer, exc), exc.reason) from None
        except InvalidInput as exc:
            raise ApiError(422, invalid_text(viewer, exc), exc.code) from None
        await viewer.uow.commit()
        f = await open_case_file(viewer.uow, viewer.scope, viewer.actor, case_id, now=viewer.now)
        await viewer.uow.commit()
        entry = next(e for e in f.timeline if e.event.id == event.id)
        return DecisionOut(case=case_detail(f), event=event_out(entry))

    @router.get("/escalations", response_model=list[EscalationOut], summary="Open escalations in your area")
    async def escalations(
        viewer: ApiViewer,
        acknowledged: Annotated[bool | None, Query(description="false: nobody has taken them on")] = None,
    ) -> list[EscalationOut]:
        rows = await viewer.uow.escalations.open_in_scope(viewer.scope, acknowledged=acknowledged)
        names = {s.id: s.name for s in await viewer.uow.directory.all_staff()}
        await viewer.record_view("escalations", acknowledged=acknowledged, rows=len(rows))
        return [_escalation_out(e, c, names.get(e.acknowledged_by_id or 0)) for e, c in rows]

    @router.post(
        "/escalations/{escalation_id}/acknowledge",
        response_model=EscalationOut,
        summary="Take an escalation on",
        responses={
            404: {"description": "No such escalation in your area"},
            409: {"model": Refusal, "description": "Already taken on, or done meanwhile"},
        },
    )
    async def take_on(escalation_id: EscalationId, viewer: ApiViewer) -> EscalationOut:
        """ "我来跟进 / I'll handle it": the escalation stops climbing and you are reminded to follow it up."""
        staff = viewer.identity.staff
        try:
            done = await acknowledge(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                staff,
                escalation_id,
                now=viewer.now,
                policy=viewer.services.policy,
                tz=viewer.services.tz,
            )
        except (NotInScope, NotFound):
            await viewer.uow.commit()
            raise ApiError(404, "no such escalation in your area") from None
        except AlreadyAcknowledged as exc:
            raise ApiError(
                409,
                viewer.t("ack.already", name=exc.by.name if exc.by else "?", at=""),
                "already_acknowledged",
            ) from None
        except EscalationClosed:
            raise ApiError(409, viewer.t("ack.closed"), "closed") from None
        await viewer.uow.commit()
        return _escalation_out(done.escalation, done.case, staff.name)

    return router
