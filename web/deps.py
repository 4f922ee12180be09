"""Per-request context of the dashboard: who is logged in, what they may see, in which language."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal, NoReturn

from fastapi import Depends, Request

from domain.audit import Actor, audit
from domain.people.language import language_of
from domain.people.scope import scope_for
from domain.people.webauth import WebIdentity, has_dashboard_access, identify_session, identify_token
from i18n import LANGUAGES, t
from storage.scope import Scope
from storage.uow import UnitOfWork
from web.ports import WebServices

SESSION_COOKIE = "nol_session"
LANGUAGE_COOKIE = "nol_lang"
LOGIN_CSRF_COOKIE = "nol_login_csrf"
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL; larger ones cannot name a row


@dataclass(frozen=True)
class WebConfig:
    """Cookie settings; `cookie_secure=None` marks cookies Secure exactly when the request came over https.
    The login throttle's limits (web.login_throttle; settings WEB_LOGIN_ATTEMPTS_PER_MINUTE and
    WEB_LOGIN_WAITING)."""

    cookie_secure: bool | None = None
    same_site: Literal["lax", "strict", "none"] = "lax"
    login_attempts_per_minute: int = 10
    login_waiting: int = 8


class LoginRequired(Exception):
    """A page was asked for without a valid session: the handler redirects to the login page."""


class PageError(Exception):
    """An HTTP error rendered as a dashboard page (404 outside one's scope, 403 without access)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


class ApiError(Exception):
    """An HTTP error of /api/v1, answered as JSON."""

    def __init__(self, status_code: int, detail: str, reason: str | None = None) -> None:
        super().__init__(detail)
        self.status_code, self.detail, self.reason = status_code, detail, reason


@dataclass
class Viewer:
    """The logged-in coordinator of this request, with their scope and an open unit of work."""

    services: WebServices
    uow: UnitOfWork
    identity: WebIdentity
    scope: Scope
    now: datetime
    language: str
    ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor(staff_id=self.identity.staff.id, label=self.identity.actor.label, source=self.ip)

    @property
    def today(self) -> date:
        """The local date of the request."""
        return self.now.astimezone(self.services.tz).date()

    def t(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)

    async def discard(self) -> None:
        """Forgets what a refused request changed, keeping who is logged in readable for the page."""
        await self.uow.rollback()
        for row in (self.identity.staff, self.identity.user, self.identity.session):
            if row is not None:
                await self.uow.session.refresh(row)

    async def record_view(self, entity: str, **detail: object) -> None:
        """One audit entry for a page of lists or figures (DOMAIN.md §8: every view is logged), with what
        was asked for and never a name; committed with whatever else the request did."""
        audit(self.uow, self.actor, self.now, "view", entity, **detail)
        await self.uow.commit()

    async def deny(self, status_code: int = 404) -> NoReturn:
        """Keeps the "denied" audit entry the domain wrote, then answers 404 (or 403)."""
        await self.uow.commit()
        raise PageError(status_code)


def existing_id(value: int) -> int:
    """An id from a URL; out of the database's range it cannot exist, so the page answers 404."""
    if not 0 < value <= MAX_ID:
        raise PageError(404)
    return value


def services_of(request: Request) -> WebServices:
    return request.app.state.services  # type: ignore[no-any-return]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_language(request: Request) -> str:
    """Before login: the browser's language cookie, else the deployment default (domain.people.language)."""
    return language_of(
        None, reported=browser_language(request), default=services_of(request).default_language
    )


def browser_language(request: Request) -> str | None:
    """The language this browser was switched to (its cookie), if any."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return str(chosen) if chosen in LANGUAGES else None


async def _viewer(request: Request) -> AsyncIterator[Viewer]:
    services = services_of(request)
    now = services.clock.now()
    async with services.uow() as uow:
        token = request.cookies.get(SESSION_COOKIE)
        identity = await identify_session(uow, token, now) if token else None
        if identity is None or identity.session is None:
            raise LoginRequired()
        if not has_dashboard_access(identity.staff):
            raise PageError(403)
        scope = await scope_for(uow, identity.staff)
        yield Viewer(
            services=services,
            uow=uow,
            identity=identity,
            scope=scope,
            now=now,
            # The person's stored choice holds in every session (a switch in the chat shows here too);
            # without one, the language this session was opened in (domain.people.language).
            language=language_of(
                identity.staff, reported=identity.session.language, default=services.default_language
            ),
            ip=client_ip(request),
        )


async def _csrf_checked(request: Request, viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
    """POSTs must carry the session's CSRF token; anything else is refused with 403."""
    form = await request.form()
    if not csrf_ok(viewer, form.get("csrf_token")):
        raise PageError(403)
    return viewer


def csrf_ok(viewer: Viewer, value: object) -> bool:
    """Whether a form's csrf_token is the session's (for routes that read their form themselves)."""
    given = value if isinstance(value, str) else ""
    expected = viewer.identity.session.csrf_token if viewer.identity.session else ""
    return bool(given and hmac.compare_digest(given.encode(), expected.encode()))


async def _api_viewer(request: Request) -> AsyncIterator[Viewer]:
    services = services_of(request)
    now = services.clock.now()
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    async with services.uow() as uow:
        identity = await identify_token(uow, token.strip(), now) if scheme.lower() == "bearer" else None
        if identity is None:
            raise ApiError(401, "a valid bearer token is required")
        if not has_dashboard_access(identity.staff):
            raise ApiError(403, "this staff member has no dashboard access")
        scope = await scope_for(uow, identity.staff)
        yield Viewer(
            services=services,
            uow=uow,
            identity=identity,
            scope=scope,
            now=now,
            language=language_of(identity.staff, default=services.default_language),
            ip=client_ip(request),
        )


CurrentViewer = Annotated[Viewer, Depends(_viewer)]
CsrfViewer = Annotated[Viewer, Depends(_csrf_checked)]
ApiViewer = Annotated[Viewer, Depends(_api_viewer)]
