"""Mounts the coordinator dashboard, its static files, exports and the JSON API on the app."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from web.api import api_router
from web.api_casework import casework_api_router
from web.auth_routes import auth_router
from web.casework import casework_router
from web.crosscheck import crosscheck_router
from web.crosscheck_upload import UPLOAD_BODY, UPLOAD_PATH
from web.deps import ApiError, LoginRequired, PageError, WebConfig, request_language
from web.exports import exports_router
from web.home_teaching import home_teaching_router
from web.login_throttle import LoginThrottle
from web.nul_guard import RejectNul
from web.out_of_school import out_of_school_router
from web.pages import pages_router
from web.photos import photos_router
from web.render import SECURITY_HEADERS, render

STATIC = Path(__file__).with_name("static")


def mount_dashboard(app: FastAPI, config: WebConfig | None = None) -> None:
    """Adds /login, /dashboard, /cases, /todo, /staff, /exports, /crosscheck, /static and /api/v1 to the app."""
    config = config or WebConfig()
    # Kept on app.state so tests (and an operator's debugger) can see the logins in flight.
    app.state.login_throttle = throttle = LoginThrottle(
        config.login_attempts_per_minute, config.login_waiting
    )
    routers = (
        auth_router(config, throttle),
        pages_router(),
        casework_router(),
        home_teaching_router(),
        crosscheck_router(),
        out_of_school_router(),
        photos_router(),
        exports_router(),
        api_router(),
        casework_api_router(),
    )
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Not the Telegram webhook nor the simulator: the bot strips NUL itself, and Telegram would resend
    # a refused update again and again.
    # The cross-check's upload takes files: larger bodies, not held by the guard (web/crosscheck_upload.py).
    app.add_middleware(RejectNul, skip=("/telegram/", "/simulator"), uploads={UPLOAD_PATH: UPLOAD_BODY})

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(PageError)
    async def error_page(request: Request, exc: PageError) -> Response:
        return render(
            request,
            "error.html",
            language=request_language(request),
            status_code=exc.status_code,
            code=exc.status_code,
        )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        body = {"detail": exc.detail} if exc.reason is None else {"detail": exc.detail, "reason": exc.reason}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
