"""POST /telegram/webhook: checks Telegram's secret header first, then queues the update."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, HTTPException, Request, Response
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)


def webhook_router(application: Application, secret: str) -> APIRouter:  # type: ignore[type-arg]
    """Updates go onto the application's queue; Telegram gets 200 at once and retries otherwise."""
    router = APIRouter()

    @router.post("/telegram/webhook", include_in_schema=False)
    async def receive(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise HTTPException(status_code=403)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except ValueError:
            raise HTTPException(status_code=400) from None
        if update is None:
            raise HTTPException(status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return router
