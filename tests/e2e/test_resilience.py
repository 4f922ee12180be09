"""A restart between every pair of steps loses nothing and duplicates nothing; the draft lives in the DB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import func, select
from telegram.ext import Application

from app.container import Services
from bot.application import launch, shutdown
from domain.identity import mask_name
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from storage.models import Case, CaseEvent
from tests.e2e.conftest import PhoneFactory, buttons, invite_code, make_application
from tests.factories import World


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
        label = next(b for b in buttons(ask) if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b)
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
        bot_process: Restartable, phones: PhoneFactory, world: World, services: Services) -> None:
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
        cases = await uow.session.scalar(select(func.count()).select_from(Case).where(Case.student_id == pupil.id))
        reports = await uow.session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.kind == "absence_reported"))
        assert (cases, reports) == (1, 1)
        assert await uow.students.flags(pupil.id) == ["orphan"]


async def test_a_double_tapped_submit_records_once(polling_bot: Application, phones: PhoneFactory,
                                                   world: World, services: Services) -> None:
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
        n = await uow.session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.kind == "absence_reported"))
    assert n == 1
    assert sum("个案编号" in m["text"] for m in phone.messages) == 1


async def test_a_redelivered_update_changes_nothing(polling_bot: Application, phones: PhoneFactory,
                                                    world: World, services: Services, tg_bot: BotState) -> None:
    """Telegram delivers at least once: the same submit update arriving twice records one report."""
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"])
    for action, expect in report_script(world):
        await action(phone)
        await phone.wait_for_reply(expect, timeout=20)
    submit_update = tg_bot.history[-1]["update_id"]
    before = len(phone.messages)
    await phone.redeliver(submit_update)
    # Send something after it, so its answer proves the redelivered update was processed first.
    await phone.send("/help")
    await phone.wait_for_reply(lambda m: "/language" in m["text"])
    async with services.uow() as uow:
        n = await uow.session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.kind == "absence_reported"))
    assert n == 1
    assert len(phone.messages) == before + 1, " | ".join(m["text"][:12].replace("\n", " ") for m in phone.messages[-4:])
