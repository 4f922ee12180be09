"""`python -m bot`: the Telegram bot alone (polling), without the web server or the scheduler."""

from __future__ import annotations

import asyncio
import signal

from app.container import build_services
from app.logs import configure_logging
from app.settings import get_settings
from bot.application import build_application, freeze_startup_heap, launch, shutdown
from storage.migrate import upgrade


async def main() -> None:
    settings = get_settings()
    if not settings.token:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set; for the demo run `notoneless run` instead.")
    services = build_services(settings)
    await upgrade(services.engine)
    application = build_application(
        services,
        token=settings.token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await launch(application)
        freeze_startup_heap()
        await stop.wait()
    finally:
        await shutdown(application)
        await services.close()


if __name__ == "__main__":
    configure_logging(get_settings().log_level, get_settings().log_format)
    asyncio.run(main())
