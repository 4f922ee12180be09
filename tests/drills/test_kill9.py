"""kill -9 of the bot process at every step, and while a reply is in flight: nothing lost, nothing twice.

The bot runs as a real subprocess (tests/drills/bot_process.py) polling the emulator in this process.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from app.container import Services
from bot.conversations.catalogue import FORMS
from domain.audit import Actor
from domain.cases import AbsenceReport, report_absence
from domain.scope import scope_for
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.drills.conftest import (
    PhoneFactory,
    call_held,
    invite_code,
    report_counts,
    teacher_a_at_the_date_step,
)
from tests.drills.procs import BotProcess
from tests.drills.scripts import (
    Step,
    bind,
    buttons,
    report_steps,
    return_steps,
    send,
    typed_yesterday,
    visit_steps,
)
from tests.factories import World


async def test_kill_9_after_every_step_of_report_resumes_the_same_step(
        bot_process: BotProcess, phones: PhoneFactory, world: World, services: Services) -> None:
    await bot_process.start()
    pupil = world.student_in(world.class_a)
    phone = await phones()
    await bind(phone, await invite_code(services, world.staff["teacher_a"].id))
    for step in report_steps(pupil):
        await bot_process.restart()  # the previous step's process dies with no goodbye
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)
    assert bot_process.starts == len(report_steps(pupil)) + 1
    assert await report_counts(services, pupil.id) == (1, 1)
    async with services.uow() as uow:
        assert await uow.students.flags(pupil.id) == ["orphan"]
        assert await uow.drafts.get(phone.user_id) is None


async def _kill_while_replying(emulator: Emulator, tg_bot: BotState, bot_process: BotProcess,
                               step: Step, phone: object) -> int:
    """Does the step with the reply held by the emulator, kills the bot, restarts it; returns the update id."""
    emulator.inject_fault("sendMessage", "delay", 1, delay=60)
    await step.action(phone)
    update_id = int(tg_bot.history[-1]["update_id"])
    await call_held(emulator)  # the answer is committed; its reply is on the wire
    await bot_process.restart()
    emulator.faults.clear()
    return update_id


async def test_kill_9_while_the_reply_is_in_flight_applies_the_answer_once(
        bot_process: BotProcess, phones: PhoneFactory, world: World, services: Services,
        emulator: Emulator, tg_bot: BotState) -> None:
    """python-telegram-bot confirms an update when it polls for the next batch, so the emulator would
    not hand it out again by itself; Telegram does redeliver when a webhook worker dies before
    answering, so the drill redelivers the update explicitly after the restart."""
    pupil, phone, steps = await teacher_a_at_the_date_step(bot_process, phones, world, services)

    # A typed date whose reply is lost: the answer is kept, the redelivery changes nothing, and the
    # teacher who re-sends the date (having seen no reply) is shown the step after it.
    typed = Step("absent_since", send(typed_yesterday()), steps[2].expect)
    update_id = await _kill_while_replying(emulator, tg_bot, bot_process, typed, phone)
    await phone.redeliver(update_id)
    await typed.action(phone)
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m), timeout=30)
    async with services.uow() as uow:
        draft = await uow.drafts.get(phone.user_id)
        assert draft is not None and draft.step == "reason"
        assert draft.answers["absent_since"] == typed_yesterday()

    for step in steps[3:-1]:
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)

    # The submit whose reply is lost: one case; a second tap only says the form has ended, and the
    # case is there in /mycases.
    update_id = await _kill_while_replying(emulator, tg_bot, bot_process, steps[-1], phone)
    await phone.redeliver(update_id)
    await phone.tap("✅ 提交")
    await phone.send("/mycases")
    listing = await phone.wait_for_reply(lambda m: "我的在办个案" in m["text"], timeout=30)
    assert await report_counts(services, pupil.id) == (1, 1)
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None
    assert case.number in listing["text"] or any(case.number in b for b in buttons(listing))
    assert not any("个案编号" in m["text"] for m in phone.messages)  # that reply really was lost


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_kill_9_after_every_step_of_visit_and_return_resumes_the_same_step(
        bot_process: BotProcess, phones: PhoneFactory, world: World, services: Services) -> None:
    """/visit (with a photo, fetched and stored inside the step) and then /return, on SQLite."""
    if "visit" not in {f.name for f in FORMS} or "return" not in {f.name for f in FORMS}:
        pytest.skip("needs the /visit and /return forms")
    await bot_process.start()
    pupil = world.student_in(world.class_a)
    async with services.uow() as uow:
        staff = await uow.directory.staff(world.staff["teacher_a"].id)
        assert staff is not None
        today = services.clock.now().astimezone(services.tz).date()
        case, _ = await report_absence(uow, await scope_for(uow, staff), Actor(staff.id, "drill"),
                                       AbsenceReport(pupil.id, today - timedelta(days=4)), now=services.clock.now(),
                                       policy=services.policy, tz=services.tz)
        await uow.commit()
    phone = await phones()
    await bind(phone, await invite_code(services, world.staff["teacher_a"].id))
    steps = visit_steps(case.number, jpeg()) + return_steps(case.number)
    for step in steps:
        await bot_process.restart()
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)
    async with services.uow() as uow:
        kinds = [e.kind for e in await uow.cases.events(case.id)]
        photos = await uow.attachments.of_case(case.id)
    assert kinds.count("visit_logged") == 1 and kinds.count("return_confirmed") == 1, kinds
    assert len(photos) == 1


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()
