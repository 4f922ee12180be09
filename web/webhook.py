"""POST /telegram/webhook: checks Telegram's secret header first, then applies the update, then answers."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

# Telegram's updates are a few kilobytes (a message holds at most 4096 characters); a larger body is
# not an update, and reading it whole would let anyone holding the secret fill the worker's memory.
MAX_UPDATE_BYTES = 1 << 20
MAX_UPDATE_ID = 2**63  # the update log keeps it in a 64-bit column


class NotAnUpdate(Exception):
    """The body is not a Telegram update; `reason` names why without quoting the body."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.status_code = reason, status_code


async def read_body(request: Request, limit: int = MAX_UPDATE_BYTES) -> bytes:
    """The body, refused (413) past `limit` bytes: by its Content-Length before reading anything,
    else as soon as the bytes read pass the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise NotAnUpdate("unreadable Content-Length")
        if int(declared) > limit:
            raise NotAnUpdate("body too large", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise NotAnUpdate("body too large", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_update(body: bytes, application: Application) -> Update:  # type: ignore[type-arg]
    """The update in the body, or NotAnUpdate: not JSON, nested too deep, not an object with an
    integer update_id, or fields of the wrong type."""
    try:
        data: Any = json.loads(body)
    except RecursionError:
        raise NotAnUpdate("JSON nested too deeply") from None
    except ValueError:  # UnicodeDecodeError included
        raise NotAnUpdate("not JSON") from None
    if not isinstance(data, dict):
        raise NotAnUpdate(f"JSON {type(data).__name__}, not an object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise NotAnUpdate("no integer update_id")
    if not 0 <= update_id < MAX_UPDATE_ID:
        raise NotAnUpdate("update_id out of range")
    try:
        update = Update.de_json(data, application.bot)
    except Exception as exc:  # noqa: BLE001 - PTB raises whatever a malformed field makes it raise
        raise NotAnUpdate(f"malformed update ({type(exc).__name__})") from None
    if update is None:
        raise NotAnUpdate("empty update")
    return update


def webhook_router(application: Application, secret: str) -> APIRouter:  # type: ignore[type-arg]
    """Telegram gets 200 only once the update has been handled, so a worker that dies meanwhile
    (kill -9, OOM, power loss) leaves the update to Telegram's redelivery; the update log in the
    database makes a redelivered update that was already applied change nothing.

    A handler that raised is answered 200 too: the global error handler has logged it and told the
    person (in their language) to send the step again or that something went wrong, and a redelivery
    would only meet the same failure. Only a failure outside the handlers (the worker shutting down
    mid-request) gives Telegram no 200, and so a retry.

    A body that is not an update (only someone holding the secret can send one) is answered 400, or
    413 past MAX_UPDATE_BYTES, and logged in one line that quotes nothing of it."""
    router = APIRouter()

    @router.post("/telegram/webhook", include_in_schema=False)
    async def receive(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise HTTPException(status_code=403)
        try:
            update = parse_update(await read_body(request), application)
        except NotAnUpdate as exc:
            log.warning("webhook: refused a request that is not a Telegram update: %s", exc.reason)
            raise HTTPException(status_code=exc.status_code) from None
        # Through the update processor: the builder's bound on concurrent updates holds here too.
        await application.update_processor.process_update(update, application.process_update(update))
        return Response(status_code=200)

    return router
