"""Jinja2 pages in the viewer's language, with security headers on every dashboard response."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from domain.people.roles import ROLE_LABELS, Role
from domain.privacy.identity import mask_phone, mask_student_number
from i18n import t
from web.deps import Viewer, services_of

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
# Pages hold minors' data: never cached, never framed, no third-party anything (works offline).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def _local(tz: ZoneInfo, value: datetime | date | None, with_time: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(tz)
        return local.strftime("%Y-%m-%d %H:%M") if with_time else local.strftime("%Y-%m-%d")
    return value.isoformat()


def role_label(language: str, role: str) -> str:
    zh, en = ROLE_LABELS.get(Role(role), (role, role))
    return en if language == "en" else zh


def status_label(language: str, status: str) -> str:
    return t(language, f"status.{status}")


def translate_or(language: str, key: str, fallback: object) -> str:
    """Catalog text when the key exists (e.g. a known event kind), else the raw value."""
    try:
        return t(language, key)
    except KeyError:
        return str(fallback)


def render(
    request: Request,
    template: str,
    *,
    language: str,
    viewer: Viewer | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Renders a page; `_` looks up catalog text in the page's language."""
    tz = services_of(request).tz
    context.update(
        request=request,
        lang=language,
        viewer=viewer,
        csrf=viewer.identity.session.csrf_token if viewer and viewer.identity.session else "",
        _=lambda key, **params: t(language, key, **params),
        local=lambda value, with_time=True: _local(tz, value, with_time),
        role_label=lambda role: role_label(language, role),
        status_label=lambda status: status_label(language, status),
        tr_or=lambda key, fallback: translate_or(language, key, fallback),
        mask_phone=mask_phone,
        mask_student_number=mask_student_number,
        hidden_data=("location", "attachments", "visitors", "visit_event"),
    )
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
