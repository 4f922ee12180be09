"""GET /metrics in Prometheus's text format, for loopback scrapers or holders of METRICS_TOKEN only:
the figures say how much casework a county has, which is not for the open internet."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, HTTPException, Request, Response

from ops.metrics import CONTENT_TYPE, process_metrics, state_metrics


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_router(token: str | None) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        given = request.headers.get("Authorization", "")
        if token:
            # With a token set, it is required from every address (nginx may make every client look local).
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise HTTPException(status_code=404)
        elif not _loopback(request.client.host if request.client else None):
            raise HTTPException(status_code=404)
        services = request.app.state.services
        async with services.uow() as uow:
            state = await state_metrics(uow, services.clock.now())
        return Response(process_metrics() + state, media_type=CONTENT_TYPE)

    return router
