"""create_app(...) -> the FastAPI application: health, dashboard, API, webhook, WeCom's callback (when
configured) and (demo only) the simulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from web.dashboard import mount_dashboard
from web.deps import WebConfig
from web.metrics import metrics_router
from web.ports import WebServices
from web.request_id import RequestId
from web.wecom import processor_from, verifier_from, wecom_router

log = logging.getLogger(__name__)


def create_app(
    services: WebServices,
    *,
    routers: list[APIRouter] | None = None,
    demo: bool = False,
    web: WebConfig | None = None,
) -> FastAPI:
    """Routers are passed in by the runner, so the simulator exists only in demo mode; the dashboard
    and the API are always there (`web` sets its cookie options)."""
    # /openapi.json stays for integrators; the two documentation pages pull unpinned scripts from a CDN
    # into the dashboard's origin, so they exist only where WEB_API_DOCS turns them on.
    docs = services.settings.web_api_docs
    settings = services.settings
    processor = processor_from(settings, services) if settings.wecom_enabled else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if processor is None:
            yield
            return
        await processor.start()  # first the callbacks a killed process left
        try:
            yield
        finally:
            await processor.stop()
            await processor.client.aclose()

    app = FastAPI(
        lifespan=lifespan,
        title="Not One Less",
        version="0.1.0",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        link = '<p><a href="/simulator">聊天模拟器 / Chat simulator</a></p>' if demo else ""
        return (
            "<!doctype html><meta charset=utf-8><title>一个都不能少 Not One Less</title>"
            "<h1>一个都不能少 · Not One Less</h1><p>控辍保学工作平台 / Dropout-prevention case work</p>"
            '<p><a href="/dashboard">工作台登录 / Dashboard</a></p>' + link
        )

    mount_dashboard(
        app,
        web
        or WebConfig(
            cookie_secure=settings.web_cookie_secure,
            login_attempts_per_minute=settings.web_login_attempts_per_minute,
            login_waiting=settings.web_login_waiting,
        ),
    )
    token = settings.metrics_token
    app.include_router(metrics_router(token.get_secret_value() if token else None))
    if settings.wecom_enabled:
        app.include_router(wecom_router(verifier_from(settings), settings.wecom_agent_id or 0))
    elif settings.wecom_missing:
        log.warning("WeCom callback off: %s not set", ", ".join(settings.wecom_missing))
    for router in routers or []:
        app.include_router(router)
    app.add_middleware(RequestId)  # added last: outermost, so every log line of a request has its id
    app.state.services = services
    app.state.wecom_processor = processor
    return app
