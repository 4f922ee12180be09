"""POST /telegram/webhook: checks Telegram's secret header first, then applies the update, then answers."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response
from telegram import Update
from telegram.ext import Application


def webhook_router(application: Application, secret: str) -> APIRouter:  # type: ignore[type-arg]
    """Telegram gets 200 only once the update has been handled, so a worker that dies meanwhile
    (kill -9, OOM, power loss) leaves the update to Telegram's redelivery; the update log in the
    database makes a redelivered update that was already applied change nothing.

    A handler that raised is answered 200 too: the global error handler has logged it and told the
    person (in their language) to send the step again or that something went wrong, and a redelivery
    would only meet the same failure. Only a failure outside the handlers (the worker shutting down
    mid-request) gives Telegram no 200, and so a retry."""
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
        # Through the update processor: the builder's bound on concurrent updates holds here too.
        await application.update_processor.process_update(update, application.process_update(update))
        return Response(status_code=200)

    return router
