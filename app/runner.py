"""`notoneless run`: web server, bot (polling or webhook) and, with DEMO=true, the demo emulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import uvicorn
from fastapi import APIRouter
from telegram.ext import Application

from app.container import Services, build_services
from app.demo_mode import check_mode, login_box
from app.demo_wecom import add_demo_members, start_demo_wecom
from app.scheduler import STOP_SIGNALS
from app.settings import Settings, SettingsError
from bot.application import build_application, freeze_startup_heap, launch, shutdown, stop_polling
from domain.demo import RealDataPresent, demo_login, refuse_real_data
from storage.migrate import upgrade
from web.app import create_app
from web.webhook import webhook_router

if TYPE_CHECKING:
    from sandbox.wecom import WeComEmulator

log = logging.getLogger(__name__)


async def _demo_endpoint(
    stack: AsyncExitStack, services: Services, routers: list[APIRouter], wecom: WeComEmulator | None
) -> tuple[str, str, str]:
    """Starts the Bot API emulator and the simulator (demo mode only). Returns token and URLs."""
    from app.demo_people import DemoPeople
    from sandbox.emulator import Emulator
    from sandbox.simulator import simulator_router

    emulator = Emulator(limits=True)
    await emulator.start()
    stack.push_async_callback(emulator.stop)
    bot = emulator.create_bot(username=services.settings.demo_bot_username, first_name="一个都不能少")
    people = DemoPeople(services, wecom=wecom is not None)
    routers.append(simulator_router(emulator, people))
    if wecom is not None:
        from sandbox.wecom.simulator import wecom_simulator_router

        routers.append(wecom_simulator_router(wecom, people))
        await add_demo_members(wecom, people)
    return bot.token, emulator.base_url, emulator.file_base_url


async def _stop_when(event: asyncio.Event, server: uvicorn.Server, application: Application) -> None:  # type: ignore[type-arg]
    """Polling stops first: no update is fetched that the stopping process could no longer answer, and
    no long poll is left in flight to clash with the Updater's last getUpdates (a 409 Conflict)."""
    await event.wait()
    try:
        await stop_polling(application)
    finally:
        server.should_exit = True


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: it re-raises SIGTERM once the server has stopped, which
    ends the process before the scheduler resigns its lease and the bot shuts down. `run` handles the
    signals instead and stops everything in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _refuse_real_data(services: Services) -> None:
    async with services.uow() as uow:
        try:
            await refuse_real_data(uow)
        except RealDataPresent as exc:
            raise SettingsError(f"Invalid setting DEMO: {exc}") from None


async def _announce(server: uvicorn.Server, services: Services, demo: bool) -> None:
    """Once the server is up: where it runs and, in the demo, the dashboard login, boxed and printed last
    (a new password on every start), so it is what the terminal shows."""
    while not server.started:  # ends with the server: this task is cancelled when run stops
        await asyncio.sleep(0.05)
    s = services.settings
    host = f"[{s.web_host}]" if ":" in s.web_host else s.web_host
    where = f"http://{host}:{s.web_port}"
    log.info("Not One Less is running at %s%s", where, "  (demo: open /simulator)" if demo else "")
    if demo:
        try:
            async with services.uow() as uow:
                password = await demo_login(uow, now=services.clock.now())
                await uow.commit()
        except Exception:  # the demo still runs; the simulator needs no login
            log.exception("demo login not reset")
            password = None
        print(login_box(where, password), flush=True)


async def _start_scheduler(
    stack: AsyncExitStack, services: Services, token: str, base_url: str, file_url: str
) -> None:
    """The reminder scheduler in this process, with its own plain Bot (see app.scheduler)."""
    from app.scheduler import ReminderScheduler, make_bot

    bot = make_bot(token, base_url, file_url)
    await bot.initialize()
    stack.push_async_callback(bot.shutdown)
    scheduler = ReminderScheduler(services, bot)
    await scheduler.start()
    stack.push_async_callback(scheduler.stop)


async def run(settings: Settings, stop: asyncio.Event | None = None, *, scheduler: bool = True) -> None:
    """Runs until interrupted (or until `stop` is set); every part shuts down cleanly.
    The reminder scheduler runs in-process unless `scheduler` is False (then run `notoneless scheduler`)."""
    demo = check_mode(settings)
    services = build_services(settings)
    await upgrade(services.engine)
    routers: list[APIRouter] = []
    async with AsyncExitStack() as stack:
        if stop is None:  # the CLI: SIGTERM (systemd, deploys) and Ctrl-C stop it cleanly
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, stop.set)
                stack.callback(loop.remove_signal_handler, sig)
        stack.push_async_callback(services.close)
        if demo:
            await _refuse_real_data(services)
            services, wecom = await start_demo_wecom(stack, services)
            settings = services.settings  # with the WeCom emulator's app, when it runs
            token, base_url, file_url = await _demo_endpoint(stack, services, routers, wecom)
        else:
            assert settings.token is not None  # not demo
            token, base_url, file_url = (
                settings.token,
                settings.telegram_api_base_url,
                settings.telegram_file_base_url,
            )
        webhook = not demo and settings.telegram_webhook_url is not None
        application = build_application(
            services, token=str(token), base_url=base_url, base_file_url=file_url, updater=not webhook
        )
        secret = (
            settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
        )
        if webhook:
            routers.append(webhook_router(application, secret))
        server = _Server(
            uvicorn.Config(
                create_app(services, routers=routers, demo=demo),
                host=settings.web_host,
                port=settings.web_port,
                log_level=settings.log_level.lower(),
                log_config=None,  # its lines go through our handlers: masked, JSON when asked
            )
        )
        try:
            await launch(
                application, webhook_url=settings.telegram_webhook_url if webhook else None, secret=secret
            )
            freeze_startup_heap()
            if scheduler:
                await _start_scheduler(stack, services, str(token), base_url, file_url)
            watcher = asyncio.create_task(_stop_when(stop, server, application))
            stack.callback(watcher.cancel)
            announcer = asyncio.create_task(_announce(server, services, demo))
            stack.callback(announcer.cancel)
            await server.serve()
        finally:
            await shutdown(application)
