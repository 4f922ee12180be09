"""Login, logout and the language switch of the dashboard."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from domain.people.language import choose
from domain.people.webauth import (
    SESSION_TTL,
    LoginRefused,
    NoDashboardAccess,
    identify_session,
    login,
    logout,
)
from i18n import LANGUAGES
from ops.metrics import LOGIN_FAILURES
from web.deps import (
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfViewer,
    PageError,
    WebConfig,
    browser_language,
    client_ip,
    request_language,
    services_of,
)
from web.login_throttle import LoginBusy, LoginThrottle
from web.render import SECURITY_HEADERS, render

HOME = "/dashboard"


def _safe_next(target: str | None) -> str:
    """Only local paths, so the login form cannot be used to send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    return target


def _secure(request: Request, config: WebConfig) -> bool:
    return config.cookie_secure if config.cookie_secure is not None else request.url.scheme == "https"


def _cookie(
    response: Response,
    request: Request,
    config: WebConfig,
    name: str,
    value: str,
    max_age: int | None,
    path: str = "/",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite=config.same_site,
        secure=_secure(request, config),
    )


def _redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def auth_router(config: WebConfig, throttle: LoginThrottle) -> APIRouter:
    """GET/POST /login (throttled by `throttle`), POST /logout, POST /language."""
    router = APIRouter(include_in_schema=False)

    def login_page(
        request: Request,
        language: str,
        next_url: str,
        error: str | None = None,
        status_code: int = 200,
        **params: object,
    ) -> Response:
        token = secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            language=language,
            status_code=status_code,
            login_csrf=token,
            next_url=next_url,
            error=error,
            error_params=params,
        )
        _cookie(response, request, config, LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login")
        return response

    @router.get("/login")
    async def login_form(request: Request, next: str | None = None, lang: str | None = None) -> Response:
        services = services_of(request)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            async with services.uow() as uow:
                if await identify_session(uow, token, services.clock.now()) is not None:
                    return _redirect(_safe_next(next))
        language = lang if lang in LANGUAGES else request_language(request)
        response = login_page(request, language, _safe_next(next))
        if lang in LANGUAGES:
            _cookie(response, request, config, LANGUAGE_COOKIE, str(lang), max_age=365 * 86400)
        return response

    @router.post("/login")
    async def login_submit(
        request: Request,
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=1000)] = "",
        csrf_token: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = HOME,
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not (csrf_token and expected and hmac.compare_digest(csrf_token.encode(), expected.encode())):
            raise PageError(403)
        services, language = services_of(request), request_language(request)
        ip = client_ip(request)

        def refused(error: str, status_code: int, **params: object) -> Response:
            return login_page(request, language, _safe_next(next), error, status_code, **params)

        def throttled(seconds: int) -> Response:
            LOGIN_FAILURES.labels("throttled").inc()
            response = refused("web.login.throttled", 429, seconds=seconds)
            response.headers["Retry-After"] = str(seconds)
            return response

        if wait := throttle.retry_after(ip):
            return throttled(wait)
        try:
            async with throttle.slot(), services.uow() as uow:
                try:
                    token, _identity = await login(
                        uow,
                        username,
                        password,
                        now=services.clock.now(),
                        ip=ip,
                        language=browser_language(request),
                        default_language=services.default_language,
                    )
                except LoginRefused:
                    LOGIN_FAILURES.labels("refused").inc()
                    await uow.commit()
                    return refused("web.login.invalid", 401)
                except NoDashboardAccess:
                    await uow.commit()
                    return refused("web.login.no_access", 403)
                await uow.commit()
        except LoginBusy:
            return throttled(1)
        response = _redirect(_safe_next(next))
        _cookie(response, request, config, SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout_submit(request: Request, viewer: CsrfViewer) -> Response:
        await logout(viewer.uow, viewer.identity, viewer.now)
        await viewer.uow.commit()
        response = _redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.post("/language")
    async def choose_language(request: Request, viewer: CsrfViewer) -> Response:
        form = await request.form()
        language = str(form.get("language") or "")
        if language not in LANGUAGES:
            raise PageError(400)
        assert viewer.identity.session is not None
        viewer.identity.session.language = language
        # The person's one stored preference: the chat, reminders and reports follow it too.
        choose(viewer.identity.staff, language)
        await viewer.uow.commit()
        back = urlsplit(request.headers.get("referer", ""))
        response = _redirect(_safe_next(back.path + (f"?{back.query}" if back.query else "")))
        _cookie(response, request, config, LANGUAGE_COOKIE, language, max_age=365 * 86400)
        return response

    return router
