"""The real bot against the Bot API emulator over HTTP, on SQLite and PostgreSQL, driven by phones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from telegram.ext import Application

from app.container import Services, build_services
from app.settings import load_settings
from bot.application import build_application, launch, shutdown
from domain.audit import Actor
from domain.clock import FixedClock
from domain.people.invites import create_invite
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from tests.factories import World, build_world

PhoneFactory = Callable[..., Awaitable[Phone]]


@pytest.fixture
def tg_bot(emulator: Emulator) -> BotState:
    return emulator.create_bot(username="nol_e2e_bot")


@pytest.fixture
async def services(database_url: str, clock: FixedClock) -> AsyncIterator[Services]:
    svc = build_services(load_settings(database_url=database_url, telegram_bot_username="nol_e2e_bot"), clock)
    yield svc
    await svc.close()


@pytest.fixture
async def world(services: Services) -> World:
    return await build_world(services.uow)


def make_application(
    services: Services, emulator: Emulator, tg_bot: BotState, *, updater: bool = True
) -> Application:  # type: ignore[type-arg]
    return build_application(
        services,
        token=tg_bot.token,
        base_url=emulator.base_url,
        base_file_url=emulator.file_base_url,
        updater=updater,
    )


@pytest.fixture
async def polling_bot(services: Services, emulator: Emulator, tg_bot: BotState) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The product's Application, polling the emulator, as `notoneless run` starts it."""
    application = make_application(services, emulator, tg_bot)
    try:
        await launch(application, poll_timeout=1)
        yield application
    finally:
        await shutdown(application)


@pytest.fixture
async def phones(emulator: Emulator, tg_bot: BotState) -> AsyncIterator[PhoneFactory]:
    made: list[Phone] = []

    async def make(first_name: str = "老师", language_code: str | None = "zh-hans", **kw: Any) -> Phone:
        phone = await Phone.create(
            emulator.url, tg_bot.username, first_name=first_name, language_code=language_code, **kw
        )
        made.append(phone)
        return phone

    yield make
    for phone in made:
        await phone.close()


async def invite_code(services: Services, staff_id: int, ttl: timedelta = timedelta(hours=72)) -> str:
    async with services.uow() as uow:
        code = await create_invite(uow, staff_id, Actor.system("test"), now=services.clock.now(), ttl=ttl)
        await uow.commit()
    return code


BindFactory = Callable[..., Awaitable[Phone]]


@pytest.fixture
def bound(phones: PhoneFactory, services: Services, world: World) -> BindFactory:
    """A phone already linked to the named staff member of the test world."""

    async def make(who: str, language_code: str = "zh-hans") -> Phone:
        phone = await phones(first_name=who, language_code=language_code)
        await phone.start(await invite_code(services, world.staff[who].id))
        await phone.wait_for_reply(lambda m: "绑定成功" in m["text"] or "linked" in m["text"])
        return phone

    return make


def buttons(message: dict) -> list[str]:  # type: ignore[type-arg]
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]
