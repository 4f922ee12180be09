"""The real bot against the Bot API emulator over HTTP, on SQLite and PostgreSQL, driven by phones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from app.container import Services, build_services
from app.settings import load_settings
from bot.application import build_application, launch, shutdown
from bot.wecom.inbound import pending
from domain.audit import Actor
from domain.clock import FixedClock
from domain.people.invites import create_invite
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from tests.e2e.people import TELEGRAM, WECOM, Person, TelegramPerson, WeComPerson
from tests.factories import World, build_world
from tests.unit.test_wecom_crypto import CORP_ID as WECOM_CORP_ID
from tests.unit.test_wecom_crypto import ENCODING_AES_KEY as WECOM_AES_KEY
from tests.unit.test_wecom_crypto import TOKEN as WECOM_TOKEN
from tests.web.live import live_server
from tests.wecom_chat import Chat

WECOM_AGENT_ID = 1000002

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


@pytest.fixture
async def wecom_emu(clock: FixedClock) -> AsyncIterator[WeComEmulator]:
    """The WeCom API emulator; its callbacks are signed with the test app's token and key."""
    emulator = WeComEmulator(
        corp_id=WECOM_CORP_ID, agent_id=WECOM_AGENT_ID, token=WECOM_TOKEN, encoding_aes_key=WECOM_AES_KEY,
        now=lambda: clock.now().timestamp(),
    )  # fmt: skip
    async with emulator:
        yield emulator


def wecom_settings(emu: WeComEmulator) -> dict[str, object]:
    """The Settings fields of a county running WeCom against the emulator."""
    return {
        "wecom_corp_id": WECOM_CORP_ID,
        "wecom_token": WECOM_TOKEN,
        "wecom_encoding_aes_key": WECOM_AES_KEY,
        "wecom_agent_id": WECOM_AGENT_ID,
        "wecom_secret": emu.state.secret,
        "wecom_api_base_url": emu.api_base_url,
    }


@pytest.fixture
def wecom_server(
    database_url: str, tmp_path: Path, clock: FixedClock, wecom_emu: WeComEmulator
) -> Iterator[str]:
    """The product's web process with WeCom configured against the emulator, its callback connected."""
    with live_server(database_url, tmp_path / "media", clock, **wecom_settings(wecom_emu)) as url:
        wecom_emu.connect(f"{url}/wecom/callback")
        yield url


async def wecom_handled(services: Services, timeout: float = 15.0) -> None:
    """Returns once the WeCom processor has handled (and forgotten) every callback it stored."""
    for _ in range(int(timeout / 0.02)):
        async with services.uow() as uow:
            if not await pending(uow, WECOM_AGENT_ID):
                return
        await asyncio.sleep(0.02)
    raise AssertionError("WeCom callbacks left unhandled in the inbox")


@pytest.fixture(params=[TELEGRAM, WECOM])
def channel(request: pytest.FixtureRequest) -> str:
    """The channel a parametrised conversation test runs on."""
    return str(request.param)


PersonFactory = Callable[..., Awaitable[Person]]


@pytest.fixture
def person(channel: str, request: pytest.FixtureRequest, services: Services, world: World) -> PersonFactory:
    """A person of the test world bound (with an invite code, as in real life) on the test's channel, the
    product running that channel's adapter: Telegram's polling bot, or the web process's WeCom callback."""
    if channel == TELEGRAM:
        request.getfixturevalue("polling_bot")
        bind_phone: BindFactory = request.getfixturevalue("bound")

        async def on_telegram(who: str, language_code: str = "zh-hans") -> Person:
            return TelegramPerson(await bind_phone(who, language_code))

        return on_telegram
    emu: WeComEmulator = request.getfixturevalue("wecom_emu")
    request.getfixturevalue("wecom_server")
    clock: FixedClock = request.getfixturevalue("clock")

    async def on_wecom(who: str, language_code: str = "zh-hans") -> Person:
        chat = Chat(emu.add_member(f"m_{who}"), lambda: clock.advance(timedelta(seconds=1)))
        member = WeComPerson(chat, lambda: wecom_handled(services))
        await member.send(await invite_code(services, world.staff[who].id))
        await member.expect(lambda s: "绑定成功" in s.text or "linked" in s.text)
        if language_code.startswith("en"):
            await member.send("/language")
            await member.choose("English")
            await member.expect("English")
        return member

    return on_wecom


@pytest.fixture
def stranger(channel: str, request: pytest.FixtureRequest, services: Services) -> PersonFactory:
    """Someone not bound yet, on the test's channel, the product running that channel's adapter: a new
    Telegram phone (whose client reports `language_code`), or a member of the WeCom app's visible range
    (WeCom reports no client language, so `language_code` is not used there)."""
    if channel == TELEGRAM:
        request.getfixturevalue("polling_bot")
        phones: PhoneFactory = request.getfixturevalue("phones")

        async def on_telegram(name: str = "老师", language_code: str = "zh-hans") -> Person:
            return TelegramPerson(await phones(first_name=name, language_code=language_code))

        return on_telegram
    emu: WeComEmulator = request.getfixturevalue("wecom_emu")
    request.getfixturevalue("wecom_server")
    clock: FixedClock = request.getfixturevalue("clock")
    made = iter(range(1, 1000))

    async def on_wecom(name: str = "老师", language_code: str = "zh-hans") -> Person:
        chat = Chat(emu.add_member(f"new_{next(made)}"), lambda: clock.advance(timedelta(seconds=1)))
        return WeComPerson(chat, lambda: wecom_handled(services))

    return on_wecom


async def use_invite(someone: Person, code: str) -> None:
    """Uses an invite as people do on their channel: Telegram's start link, WeCom's code typed as text."""
    if isinstance(someone, TelegramPerson):
        await someone.start(code)
    else:
        await someone.send(code)


ChannelPersonFactory = Callable[..., Awaitable[Person]]


@pytest.fixture
def person_on(request: pytest.FixtureRequest, services: Services, world: World) -> ChannelPersonFactory:
    """`await person_on(channel, who)`: a person bound on the named channel, whatever the test's; both
    adapters run at once on the same database (Telegram's polling bot and the web process's WeCom callback)."""
    request.getfixturevalue("polling_bot")
    bind_phone: BindFactory = request.getfixturevalue("bound")
    emu: WeComEmulator = request.getfixturevalue("wecom_emu")
    request.getfixturevalue("wecom_server")
    clock: FixedClock = request.getfixturevalue("clock")

    async def make(channel: str, who: str) -> Person:
        if channel == TELEGRAM:
            return TelegramPerson(await bind_phone(who))
        chat = Chat(emu.add_member(f"m_{who}"), lambda: clock.advance(timedelta(seconds=1)))
        member = WeComPerson(chat, lambda: wecom_handled(services))
        await member.send(await invite_code(services, world.staff[who].id))
        await member.expect("绑定成功")
        return member

    return make
