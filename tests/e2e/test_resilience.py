"""A restart between every pair of steps loses nothing and duplicates nothing; the draft lives in the DB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram.ext import Application

from app.container import Services
from bot.application import launch, shutdown
from bot.context import bot_id_of
from domain.clock import FixedClock
from domain.privacy.identity import mask_name
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from storage.models import AuditEntry, Case, CaseEvent, InboxUpdate
from tests.accounts import draft_key
from tests.e2e.conftest import (
    PhoneFactory,
    buttons,
    invite_code,
    make_application,
    wecom_handled,
    wecom_settings,
)
from tests.e2e.people import WeComPerson
from tests.e2e.test_mycases import open_case
from tests.factories import World
from tests.waiting import until
from tests.web.live import live_server
from tests.wecom_chat import Chat


class Restartable:
    """The bot process, stopped and started again at will (a fresh Application each time)."""

    def __init__(self, services: Services, emulator: Emulator, tg_bot: BotState) -> None:
        self.args = (services, emulator, tg_bot)
        self.app: Application | None = None  # type: ignore[type-arg]
        self.starts = 0

    async def start(self) -> None:
        self.app = make_application(*self.args)
        await launch(self.app, poll_timeout=1)
        self.starts += 1

    async def restart(self) -> None:
        assert self.app is not None
        await shutdown(self.app)
        await self.start()


@pytest.fixture
async def bot_process(services: Services, emulator: Emulator, tg_bot: BotState) -> AsyncIterator[Restartable]:
    process = Restartable(services, emulator, tg_bot)
    await process.start()
    yield process
    if process.app is not None:
        await shutdown(process.app)


Step = Callable[[Phone], Awaitable[object]]


def report_script(world: World) -> list[tuple[Step, Callable[[dict], bool]]]:  # type: ignore[type-arg]
    pupil = world.student_in(world.class_a)

    async def pick(phone: Phone) -> object:
        ask = next(m for m in reversed(phone.messages) if buttons(m))
        label = next(
            b for b in buttons(ask) if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b
        )
        return await phone.tap(label)

    return [
        (lambda p: p.send("/report"), lambda m: bool(buttons(m))),
        (pick, lambda m: "今天" in buttons(m)),
        (lambda p: p.send("2026-10-12"), lambda m: "暂不清楚" in buttons(m)),
        (lambda p: p.tap("暂不清楚"), lambda m: "完成" in buttons(m)),
        (lambda p: p.tap("▫️ 孤儿"), lambda m: "✅ 孤儿" in buttons(m)),
        (lambda p: p.tap("完成"), lambda m: "跳过" in buttons(m)),
        (lambda p: p.tap("跳过"), lambda m: "✅ 提交" in buttons(m)),
        (lambda p: p.tap("✅ 提交"), lambda m: "个案编号" in m["text"]),
    ]


async def test_restart_between_every_pair_of_steps_resumes_the_same_step(
    bot_process: Restartable, phones: PhoneFactory, world: World, services: Services
) -> None:
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    for action, expect in report_script(world):
        await bot_process.restart()
        await action(phone)
        await phone.wait_for_reply(expect, timeout=20)
    assert bot_process.starts == len(report_script(world)) + 1
    pupil = world.student_in(world.class_a)
    async with services.uow() as uow:
        cases = await uow.session.scalar(
            select(func.count()).select_from(Case).where(Case.student_id == pupil.id)
        )
        reports = await uow.session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "absence_reported")
        )
        assert (cases, reports) == (1, 1)
        assert await uow.students.flags(pupil.id) == ["orphan"]


async def test_a_double_tapped_submit_records_once(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services
) -> None:
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    for action, expect in report_script(world)[:-1]:
        await action(phone)
        await phone.wait_for_reply(expect, timeout=20)
    summary = phone.last_message
    assert summary is not None
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    await phone.refresh()
    async with services.uow() as uow:
        n = await uow.session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "absence_reported")
        )
    assert n == 1
    assert sum("个案编号" in m["text"] for m in phone.messages) == 1


async def test_a_redelivered_update_changes_nothing(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services, tg_bot: BotState
) -> None:
    """Telegram delivers at least once: the same submit update arriving twice records one report."""
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    for action, expect in report_script(world):
        await action(phone)
        await phone.wait_for_reply(expect, timeout=20)
    submit_update = tg_bot.history[-1]["update_id"]
    await handled(services, tg_bot)  # forgotten by the inbox: Telegram's copy counts as a new delivery
    before = len(phone.messages)
    await phone.redeliver(submit_update)
    # Its kept reply comes again; then something else, whose answer shows nothing more came. (Waiting for
    # the reply first: a command is not queued behind another chat update, so /help could overtake it.)
    await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    await phone.send("/help")
    await phone.wait_for_reply(lambda m: "/language" in m["text"])
    async with services.uow() as uow:
        n = await uow.session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "absence_reported")
        )
    assert n == 1
    # Its reply is shown again (the first one may never have arrived), then /help's.
    texts = [m["text"] for m in phone.messages]
    assert len(texts) == before + 2, " | ".join(t[:12].replace("\n", " ") for t in texts[-4:])
    assert texts[-2] == texts[-3] and "个案编号" in texts[-2]


async def test_a_quick_double_tap_sends_one_message_and_turns_the_tapped_one_into_the_current_step(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services, emulator: Emulator
) -> None:
    """The second tap of a double tap is stale: it edits the tapped message into the step the form is
    at (one edit), rather than sending the step again (which met Telegram's per-chat limit)."""
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    for action, expect in report_script(world)[:3]:
        await action(phone)
        await phone.wait_for_reply(expect, timeout=20)
    reason = phone.last_message
    assert reason is not None and "暂不清楚" in buttons(reason)
    before = len(phone.messages)
    emulator.limiter.reset_counters()
    await phone.tap("暂不清楚", message_id=reason["message_id"])
    await phone.tap("暂不清楚", message_id=reason["message_id"])

    def tapped() -> dict[str, Any]:
        return next(m for m in phone.messages if m["message_id"] == reason["message_id"])

    async with asyncio.timeout(20):
        while len(phone.messages) == before or "完成" not in buttons(tapped()):
            await asyncio.sleep(0.05)
            await phone.refresh()
    await asyncio.sleep(0.5)  # anything more the bot would send comes within this
    await phone.refresh()
    assert "暂不清楚" not in buttons(tapped())  # the tapped message shows the form's current step
    assert len(phone.messages) == before + 1 and "完成" in buttons(phone.messages[-1])
    assert any("已过时" in a.get("text", "") for a in phone.callback_answers)
    assert emulator.limiter.total_429 == 0
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "flags"


async def inbox_empty(services: Services) -> bool:
    async with services.uow() as uow:
        return not await uow.session.scalar(select(func.count()).select_from(InboxUpdate))


async def handled(services: Services, tg_bot: BotState) -> None:
    """Every update fetched (the emulator has none left) and handled (the inbox has forgotten it)."""
    await until(lambda: not tg_bot.pending, "the updates to be fetched")
    async with asyncio.timeout(30):
        while not await inbox_empty(services):
            await asyncio.sleep(0.02)


async def test_an_update_stored_but_not_confirmed_by_a_killed_process_is_handled_once(
    bot_process: Restartable, phones: PhoneFactory, world: World, services: Services, tg_bot: BotState
) -> None:
    """Killed between storing a batch and confirming it, a process leaves the update in its inbox and at
    Telegram: the next process replays it, and drops and confirms Telegram's copy."""
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    assert bot_process.app is not None
    await shutdown(bot_process.app)
    await phone.send("/help")
    kept = tg_bot.pending[-1]
    async with services.uow() as uow:
        await uow.inbox.keep(
            {kept["update_id"]: kept},
            services.clock.now(),
            channel="telegram",
            bot_id=bot_id_of(tg_bot.token),
        )
        await uow.commit()
    await bot_process.start()
    await phone.wait_for_reply(lambda m: "/language" in m["text"])
    await handled(services, tg_bot)
    await phone.send("/help")
    await phone.wait_for_reply(lambda m: "/language" in m["text"])
    await handled(services, tg_bot)
    await phone.refresh()
    assert sum("/language" in m["text"] for m in phone.messages) == 2


async def _audited(services: Services, action: str, entity: str) -> int:
    async with services.uow() as uow:
        return int(
            await uow.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.entity == entity)
            )
            or 0
        )


async def test_redelivered_invite_language_tap_and_mycases_store_nothing_twice(
    polling_bot: Application,
    phones: PhoneFactory,
    world: World,
    services: Services,  # type: ignore[type-arg]
    tg_bot: BotState,
) -> None:
    """Updates that store something besides forms (an invite redeemed, a language chosen, a list viewed
    and audited) are applied once: a replay or a redelivery stores nothing, and repeats its reply (the
    first may have been lost) without changing any earlier message."""
    await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    ids = [tg_bot.history[-1]["update_id"]]
    await phone.send("/language")
    await phone.wait_for_reply(lambda m: bool(m.get("reply_markup")))
    await phone.tap("English")
    await phone.wait_for_reply(lambda m: m["text"] == "Language set to English.")
    ids.append(tg_bot.history[-1]["update_id"])
    await phone.send("/mycases")
    await phone.wait_for_reply(lambda m: "My open cases" in m["text"])
    ids.append(tg_bot.history[-1]["update_id"])
    await handled(services, tg_bot)
    messages = [(m["message_id"], m["version"]) for m in await phone.refresh()]
    for update_id in ids:
        await phone.redeliver(update_id)
    await handled(services, tg_bot)
    after = await phone.refresh()
    assert [(m["message_id"], m["version"]) for m in after][: len(messages)] == messages
    again = sorted(m["text"].split("\n")[0] for m in after[len(messages) :])
    assert len(again) == 2 and "My open cases" in again[0] and "绑定成功" in again[1], again
    assert await _audited(services, "bind", "staff") == 1
    assert await _audited(services, "invite_rejected", "invite") == 0
    assert await _audited(services, "view", "case_list") == 1


async def test_wecom_restart_between_every_pair_of_steps_resumes_the_same_step(
    services: Services, world: World, wecom_emu: WeComEmulator, clock: FixedClock, tmp_path: Path
) -> None:
    """The web process that takes WeCom's callbacks, stopped and started again before every step (a new
    engine, a new processor): each step goes on from the draft in the database, nothing is doubled."""
    pupil = world.student_in(world.class_a)
    member = WeComPerson(
        Chat(wecom_emu.add_member("m_restart"), lambda: clock.advance(timedelta(seconds=1))),
        lambda: wecom_handled(services),
    )
    script: list[tuple[Callable[[], Awaitable[None]], str]] = [
        (lambda: member.send("/report"), pupil.student_number[-4:]),
        (lambda: member.tap(member.said().button(pupil.student_number[-4:])), "今天"),
        (lambda: member.send("2026-10-12"), "暂不清楚"),
        (lambda: member.tap("暂不清楚"), "完成"),
        (lambda: member.tap("▫️ 孤儿"), "✅ 孤儿"),
        (lambda: member.tap("完成"), "跳过"),
        (lambda: member.tap("跳过"), "✅ 提交"),
        (lambda: member.tap("✅ 提交"), "个案编号"),
    ]
    code = await invite_code(services, world.staff["teacher_a"].id)
    with live_server(
        services.settings.database_url, tmp_path / "media", clock, **wecom_settings(wecom_emu)
    ) as url:
        wecom_emu.connect(f"{url}/wecom/callback")
        await member.send(code)
        await member.expect("绑定成功")
    for number, (action, answer) in enumerate(script):
        with live_server(
            services.settings.database_url, tmp_path / "media", clock, **wecom_settings(wecom_emu)
        ) as url:
            wecom_emu.connect(f"{url}/wecom/callback")
            await action()
            await member.expect(answer, timeout=20)
            assert number == len(script) - 1 or "个案编号" not in member.said()
    async with services.uow() as uow:
        cases = await uow.session.scalar(
            select(func.count()).select_from(Case).where(Case.student_id == pupil.id)
        )
        reports = await uow.session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "absence_reported")
        )
        assert (cases, reports) == (1, 1)
        assert await uow.students.flags(pupil.id) == ["orphan"]
