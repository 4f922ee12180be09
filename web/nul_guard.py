"""Refuses, with 400, any request whose path, query or body holds a NUL character, and with 413 any
body over MAX_BODY (issue 15).

PostgreSQL cannot store or compare text with NUL, so one reaching a statement made a 500 (and a login
form that could never be sent). One check in front of every route is simpler than one per field. A
refused login never reached the password check, so, like a login with a wrong CSRF token, it is not
an attempt and is not audited."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from i18n import t
from web.deps import request_language
from web.render import render

_FORM = "application/x-www-form-urlencoded"
_NO_BODY = ("GET", "HEAD", "OPTIONS")
# The largest body the dashboard and the API take: forms and JSON of a few fields (a decision's note is
# at most 600 characters; rosters are imported with the CLI, not uploaded here). Anything larger is
# refused with 413 before it is held in memory.
MAX_BODY = 1 << 20


class BodyTooLarge(Exception):
    """The request's body is over MAX_BODY (by its Content-Length or by what arrived)."""


def json_has_nul(value: object) -> bool:
    """Whether any string of decoded JSON (keys too) holds a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(json_has_nul(k) or json_has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(json_has_nul(v) for v in value)
    return False


def body_has_nul(content_type: str, body: bytes) -> bool:
    """JSON (FastAPI also reads a body without a content type as JSON) is decoded, as NUL arrives
    escaped (\\u0000); forms are checked raw, percent-encoded NUL included. The dashboard takes no
    file uploads, so a NUL byte in any other body is refused too."""
    if not body:
        return False
    if not content_type or "json" in content_type:
        try:
            return json_has_nul(json.loads(body))
        except (ValueError, RecursionError):
            return False  # not JSON: the route answers 422
    return b"\x00" in body or (content_type.startswith(_FORM) and b"%00" in body.lower())


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, Receive]:
    """The whole body, and a receive that hands the same messages to the app again; BodyTooLarge past
    `limit` bytes, without reading on (nor reading at all when the Content-Length says so)."""
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge()
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def refusal(
    scope: Scope, status_code: int = 400, key: str = "web.error.nul", reason: str = "nul_character"
) -> Response:
    """400 (or 413) in the caller's language: JSON for the API, the error page for everything else."""
    request = Request(scope)
    language = request_language(request)
    if scope["path"].startswith("/api/"):
        return JSONResponse({"detail": t(language, key), "reason": reason}, status_code)
    return render(
        request, "error.html", language=language, status_code=status_code, code=status_code, message=key
    )


def too_large(scope: Scope) -> Response:
    return refusal(scope, 413, "web.error.too_large", "body_too_large")


class RejectNul:
    """ASGI middleware; paths under `skip` (the bot's own entrances, which strip NUL and bound their
    bodies themselves) pass unchecked. Bodies over `max_body` bytes are refused with 413."""

    def __init__(
        self,
        app: ASGIApp,
        skip: Sequence[str] = (),
        max_body: int = MAX_BODY,
        uploads: Mapping[str, int] | None = None,
    ) -> None:
        self.app, self.skip, self.max_body = app, tuple(skip), max_body
        self.uploads = dict(uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.uploads and scope["method"] == "POST":
            await self._upload(scope, receive, send, self.uploads[scope["path"]])
            return
        body = b""
        if scope["method"] not in _NO_BODY:
            try:
                body, receive = await _read_body(scope, receive, self.max_body)
            except BodyTooLarge:
                await too_large(scope)(scope, receive, send)
                return
        content_type = Headers(scope=scope).get("content-type", "").lower()
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query or body_has_nul(content_type, body):
            await refusal(scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A file upload (multipart: binary, NUL bytes and all) is not held here: it must declare its
        length, at most `limit` bytes (browsers always do; the server holds the body to it), and the
        route checks each file. Its path and query are checked for NUL like any other request's."""
        declared = Headers(scope=scope).get("content-length", "")
        if not declared.isdigit() or int(declared) > limit:
            await too_large(scope)(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
            await refusal(scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)
