"""A request id for every HTTP request: in the log lines written while it is handled (app.logs) and in
the X-Request-ID response header, so a user's report and the logs can be matched."""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops.log_context import request_id

HEADER = "x-request-id"
# A proxy's id is kept when it looks like one (it then matches the proxy's own logs); anything else,
# which could carry text into the logs, is replaced.
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestId:
    """ASGI middleware (pure ASGI, so the id is set in the context the route runs in)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        rid = given if _ACCEPTED.fullmatch(given) else secrets.token_hex(8)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
