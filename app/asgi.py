"""`uvicorn app.asgi:create --factory --workers 3`: webhook workers, as many as the load needs.

Each worker is one process with its own database pool and its own python-telegram-bot Application
(no updater: Telegram pushes updates to /telegram/webhook). Workers share nothing but the database,
so any of them may take any update; the update log makes a redelivered update apply once, and the
draft's version column makes two workers racing on one chat retry instead of overwriting.

Needs TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET. The schema must already
be current (`notoneless db upgrade`, once, before starting workers). TELEGRAM_WEBHOOK_REGISTER=0 on
all but one worker (or all: setWebhook is idempotent) keeps start-up from calling setWebhook.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from telegram.ext import Application

from app.container import Services, build_services
from app.logs import configure_logging
from app.settings import Settings, SettingsError, get_settings
from bot.application import build_application, freeze_startup_heap, launch, shutdown
from web.app import create_app
from web.webhook import webhook_router

log = logging.getLogger(__name__)


def _require_webhook(settings: Settings) -> tuple[str, str, str]:
    if not settings.token:
        raise SettingsError("Invalid setting TELEGRAM_BOT_TOKEN: webhook workers need a bot token")
    if not settings.telegram_webhook_url or not settings.telegram_webhook_secret:
        raise SettingsError(
            "Invalid setting TELEGRAM_WEBHOOK_URL: webhook workers need the URL and the secret"
        )
    return settings.token, settings.telegram_webhook_url, settings.telegram_webhook_secret.get_secret_value()


async def start_worker(
    application: Application,
    *,
    webhook_url: str,
    secret: str,  # type: ignore[type-arg]
    register: bool,
) -> None:
    """Starts the Application; only a registering worker sets the menu and the webhook."""
    if register:
        await launch(application, webhook_url=webhook_url, secret=secret)
    else:
        await application.initialize()
        await application.start()


def create(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The ASGI app of one worker: dashboard routes from web.app plus the webhook route."""
    settings = settings or get_settings()
    token, webhook_url, secret = _require_webhook(settings)
    configure_logging(settings.log_level, settings.log_format)
    services = services or build_services(settings)
    application = build_application(
        services,
        token=token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        updater=False,
    )
    app = create_app(services, routers=[webhook_router(application, secret)])
    inner = app.router.lifespan_context
    register = settings.telegram_webhook_register

    @asynccontextmanager
    async def lifespan(asgi_app: FastAPI) -> AsyncIterator[Any]:
        async with inner(asgi_app) as state:
            try:
                await start_worker(application, webhook_url=webhook_url, secret=secret, register=register)
                freeze_startup_heap()
                log.info("webhook worker %s ready (registers webhook: %s)", os.getpid(), register)
                yield state
            finally:
                await shutdown(application)
                await services.close()

    app.router.lifespan_context = lifespan
    app.state.telegram_application = application
    return app
