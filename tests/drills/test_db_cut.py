"""PostgreSQL connections cut while teachers work: a clear "please try again", then it just works.

The PostgreSQL server is shared, so it is never restarted here: terminating every backend of the test
database (pg_terminate_backend) is the stand-in — to the bot it looks the same as a server restart.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.container import Services
from tests.accounts import draft_key
from tests.drills.conftest import (
    PhoneFactory,
    four_pupils,
    invite_code,
    report_counts,
    teacher_a_at_the_date_step,
)
from tests.drills.procs import BotProcess
from tests.drills.scripts import Patience, bind, report_patiently, says_try_again
from tests.factories import World

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

CUT = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own to the test database (its pid is never terminated)."""
    conn = await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])
    yield conn
    await conn.close()


async def _dbname(admin: asyncpg.Connection) -> str:
    return str(await admin.fetchval("SELECT current_database()"))


async def test_a_connection_cut_mid_step_says_try_again_and_the_next_try_works(
    bot_process: BotProcess, phones: PhoneFactory, world: World, services: Services, admin: asyncpg.Connection
) -> None:
    pupil, phone, steps = await teacher_a_at_the_date_step(bot_process, phones, world, services)
    name = await _dbname(admin)

    # Hold the draft row so the bot's transaction stops half-way, then cut every connection but ours.
    async with admin.transaction():
        await admin.execute(
            "SELECT 1 FROM conversation_drafts WHERE account_id = (SELECT id FROM channel_accounts "
            "WHERE channel = 'telegram' AND account = $1) FOR UPDATE",
            str(phone.user_id),
        )
        await steps[2].action(phone)
        async with asyncio.timeout(30):
            while not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", name
            ):
                await asyncio.sleep(0.05)
        assert await admin.fetchval(CUT, name) >= 1
    apology = await phone.wait_for_reply(says_try_again, timeout=30)
    assert apology["text"] == "网络或系统繁忙，这一步没有保存。请稍后再发一次。"
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "absent_since"  # nothing of the cut step was kept

    for step in steps[2:]:  # the same step again, then the rest: the pool reconnects by itself
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)
    assert await report_counts(services, pupil.id) == (1, 1)


async def test_connections_cut_again_and_again_while_four_teachers_report(
    bot_process: BotProcess, phones: PhoneFactory, world: World, services: Services, admin: asyncpg.Connection
) -> None:
    await bot_process.start()
    pupils = four_pupils(world)
    teachers = list(pupils)
    people = {}
    for who in teachers:
        people[who] = await phones(first_name=who)
        await bind(people[who], await invite_code(services, world.staff[who].id))
    name, rng, cuts = await _dbname(admin), random.Random(8), [0]
    patience = Patience(wait=10.0)

    async def cutter() -> None:
        while True:
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            cuts[0] += await admin.fetchval(CUT, name)

    chaos = asyncio.create_task(cutter())
    try:
        await asyncio.wait_for(
            asyncio.gather(*(report_patiently(people[who], pupils[who], patience) for who in teachers)),
            timeout=200,
        )
    finally:
        chaos.cancel()
    assert cuts[0] > 0
    for pupil in pupils.values():
        assert await report_counts(services, pupil.id) == (1, 1)
