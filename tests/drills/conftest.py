"""Drill fixtures: the emulator in this process, the product in subprocesses, the real clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.container import Services, build_services
from app.settings import load_settings
from domain.audit import Actor
from domain.people.invites import create_invite
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from storage.models import Case, CaseEvent, ProcessedUpdate, Student
from tests.accounts import draft_key
from tests.drills.procs import BotProcess, ProductProcess, product_env
from tests.drills.scripts import Expect, Step, bind, report_steps, walk
from tests.factories import World, build_world

PhoneFactory = Callable[..., Awaitable[Phone]]


@pytest.fixture
def tg_bot(emulator: Emulator) -> BotState:
    return emulator.create_bot(username="nol_drill_bot")


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    """The test's view of the database, on the real clock like the product processes."""
    svc = build_services(
        load_settings(
            database_url=database_url, telegram_bot_username="nol_drill_bot", media_dir=tmp_path / "media"
        )
    )
    yield svc
    await svc.close()


@pytest.fixture
async def world(services: Services) -> World:
    return await build_world(services.uow)


@pytest.fixture
async def bot_process(
    database_url: str, emulator: Emulator, tg_bot: BotState, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    """The product's bot polling the emulator from a separate process (started by the test)."""
    env = product_env(database_url, tg_bot.token, emulator.url, tmp_path / "media")
    process = BotProcess(env, tmp_path / "bot.log")
    try:
        yield process
    finally:
        await process.close()


@pytest.fixture
async def phones(emulator: Emulator, tg_bot: BotState) -> AsyncIterator[PhoneFactory]:
    made: list[Phone] = []

    async def make(first_name: str = "老师", language_code: str | None = "zh-hans") -> Phone:
        phone = await Phone.create(
            emulator.url, tg_bot.username, first_name=first_name, language_code=language_code
        )
        made.append(phone)
        return phone

    yield make
    for phone in made:
        await phone.close()


async def invite_code(services: Services, staff_id: int) -> str:
    async with services.uow() as uow:
        code = await create_invite(
            uow, staff_id, Actor.system("drill"), now=services.clock.now(), ttl=timedelta(hours=72)
        )
        await uow.commit()
    return code


async def stored(services: Services, update_id: int) -> bool:
    """Whether the update's step was committed (the update log has its id; a drill runs one bot)."""
    async with services.uow() as uow:
        stmt = select(func.count()).select_from(ProcessedUpdate).where(ProcessedUpdate.update_id == update_id)
        return bool(await uow.session.scalar(stmt))


def replies(phone: Phone, expect: Expect) -> int:
    return sum(1 for m in phone.messages if not m["deleted"] and expect(m))


async def report_counts(services: Services, student_id: int) -> tuple[int, int]:
    """(cases of the pupil, absence_reported events on them)."""
    async with services.uow() as uow:
        cases = await uow.session.scalar(
            select(func.count()).select_from(Case).where(Case.student_id == student_id)
        )
        events = await uow.session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(Case.student_id == student_id, CaseEvent.kind == "absence_reported")
        )
    return int(cases or 0), int(events or 0)


def four_pupils(world: World, round_: int = 0) -> dict[str, Student]:
    """Four teachers, each with a different pupil of their own classes (round 0 or 1: other pupils)."""
    a = [s for s in world.students if s.class_id == world.class_a.id]
    b = [s for s in world.students if s.class_id == world.class_b.id]
    i = 2 * round_
    return {"teacher_a": a[i], "subject": a[i + 1], "teacher_b": b[i], "principal": b[i + 1]}


async def teacher_a_at_the_date_step(
    bot_process: ProductProcess, phones: PhoneFactory, world: World, services: Services
) -> tuple[Student, Phone, list[Step]]:
    """Starts the bot (polling or webhook), binds teacher_a and walks /report up to the date question."""
    await bot_process.start()
    pupil = world.student_in(world.class_a)
    phone = await phones()
    await bind(phone, await invite_code(services, world.staff["teacher_a"].id))
    steps = report_steps(pupil)
    await walk(phone, steps[:2], timeout=30)
    return pupil, phone, steps


async def report_killed_at_date_and_submit(
    process: ProductProcess,
    phones: PhoneFactory,
    world: World,
    services: Services,
    kill: Callable[[Phone, Step], Awaitable[object]],
) -> None:
    """/report by teacher_a, with `kill` (which returns once the step's reply came) doing the date step and
    the submit: each step is stored once and answered once, and the same step resumes."""
    pupil, phone, steps = await teacher_a_at_the_date_step(process, phones, world, services)
    date, submit = steps[2], steps[-1]

    await kill(phone, date)
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "reason"
    assert replies(phone, date.expect) == 1

    for step in steps[3:-1]:
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)
    await kill(phone, submit)
    assert await report_counts(services, pupil.id) == (1, 1)
    assert replies(phone, submit.expect) == 1
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


async def call_held(emulator: Emulator, method: str = "sendMessage") -> None:
    """Waits until the bot has called `method` ("*": any method) and the emulator is holding the call."""
    async with asyncio.timeout(30):
        while any(s["method"] == method.lower() for s in emulator.faults.stats()["scheduled"]):
            await asyncio.sleep(0.02)
