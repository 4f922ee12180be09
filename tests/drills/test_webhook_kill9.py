"""kill -9 of a webhook worker (uvicorn, `app.asgi:create --factory`) while it holds an update.

The worker answers the webhook request only after the update is applied, so the emulator, like
Telegram, never gets its 200 from the killed worker and sends the update again once the worker is
back. Two moments are drilled, each at the date step and at the final submit of /report:

- before the step is stored (the test holds the database's writes, so the worker cannot commit):
  the redelivered update applies the step, and the person gets its reply once;
- after the step is stored, while its reply is held by the emulator: the redelivered update is
  recognised by the update log and changes nothing; the reply is lost, as with a polling bot.

And a worker stopped with SIGTERM while it holds an update finishes it first (uvicorn's graceful shutdown).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.container import Services
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from tests.drills.conftest import (
    PhoneFactory,
    call_held,
    replies,
    report_counts,
    report_killed_at_date_and_submit,
    stored,
    teacher_a_at_the_date_step,
)
from tests.drills.procs import WebhookWorker, free_port, product_env
from tests.drills.scripts import Step, buttons, send, typed_yesterday
from tests.factories import World
from tests.waiting import until

SECRET = "drill-webhook-secret"


@pytest.fixture
async def worker(
    database_url: str, emulator: Emulator, tg_bot: BotState, tmp_path: Path
) -> AsyncIterator[WebhookWorker]:
    port = free_port()
    env = product_env(
        database_url,
        tg_bot.token,
        emulator.url,
        tmp_path / "media",
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    # Telegram retries for hours; the emulator's retries must outlast a worker's restart (bounded: ~100 s).
    emulator.webhooks.max_attempts, emulator.webhooks.max_backoff = 200, 0.5
    process = WebhookWorker(env, tmp_path, port)
    try:
        yield process
    finally:
        await process.kill()


def acknowledged(bot: BotState, update_id: int) -> bool:
    return update_id not in bot.webhook_in_flight and all(u["update_id"] != update_id for u in bot.pending)


async def settled(bot: BotState) -> None:
    """Every earlier update acknowledged: the reply shows before the request ends (the tap's answer)."""
    await until(lambda: not bot.pending and not bot.webhook_in_flight, "earlier updates to be acknowledged")


@asynccontextmanager
async def writes_held(services: Services, database_url: str) -> AsyncIterator[Callable[[], Awaitable[bool]]]:
    """No transaction can commit a step meanwhile: SQLite's write lock, or on PostgreSQL the update log
    locked against writes (every step records its update there). Yields a check that a worker's
    transaction waits on that lock (PostgreSQL only; SQLite cannot tell, and the check says yes)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(url.database), isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")

            async def cannot_tell() -> bool:
                return True

            yield cannot_tell
            connection.execute("ROLLBACK")
        finally:
            connection.close()
        return
    async with services.engine.connect() as conn:
        await conn.execute(text("LOCK TABLE processed_updates IN EXCLUSIVE MODE"))
        holder = await conn.scalar(text("SELECT pg_backend_pid()"))

        async def waiting() -> bool:
            async with services.engine.connect() as probe:
                return bool(
                    await probe.scalar(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'processed_updates'::regclass"
                            " AND pid <> :holder"
                        ),
                        {"holder": holder},
                    )
                )

        yield waiting
        await conn.rollback()


async def kill_before_the_step_is_stored(
    worker: WebhookWorker, services: Services, database_url: str, tg_bot: BotState, phone: Phone, step: Step
) -> int:
    """Does the step while the database takes no writes, kills the worker holding it, lets the database
    go and starts the worker again; returns the update id once the step's reply has come."""
    await settled(tg_bot)
    async with writes_held(services, database_url) as waiting:
        await step.action(phone)
        update_id = int(tg_bot.history[-1]["update_id"])
        # Acknowledged at once (the old behaviour) would end the wait too, and the drill would fail below.
        await until(
            lambda: update_id in tg_bot.webhook_in_flight or acknowledged(tg_bot, update_id),
            "the worker to hold the update",
        )
        async with asyncio.timeout(30):
            while not await waiting():  # PostgreSQL: the worker's transaction is blocked on the lock
                await asyncio.sleep(0.05)
        await worker.kill()
    assert not await stored(services, update_id)
    assert not acknowledged(tg_bot, update_id), "Telegram was told the update was handled; it is lost"
    await worker.start()
    await phone.wait_for_reply(step.expect, timeout=60)
    await until(lambda: acknowledged(tg_bot, update_id), "the redelivered update to be acknowledged")
    assert tg_bot.webhook_posts[update_id] >= 2
    return update_id


async def kill_while_replying(
    worker: WebhookWorker, emulator: Emulator, tg_bot: BotState, phone: Phone, step: Step
) -> int:
    """Does the step with the worker's first Bot API call after the commit held, kills the worker and
    starts it again; returns the update id once the redelivered update is acknowledged."""
    await settled(tg_bot)
    emulator.inject_fault("*", "delay", 1, delay=60)
    await step.action(phone)
    update_id = int(tg_bot.history[-1]["update_id"])
    await call_held(emulator, "*")  # the step is committed; its reply is on the wire
    assert update_id in tg_bot.webhook_in_flight  # and Telegram has no answer yet
    await worker.kill()
    emulator.faults.clear()
    await worker.start()
    await until(lambda: acknowledged(tg_bot, update_id), "the redelivered update to be acknowledged")
    assert tg_bot.webhook_posts[update_id] >= 2
    return update_id


async def test_a_worker_killed_before_the_step_is_stored_gets_the_update_again(
    worker: WebhookWorker,
    phones: PhoneFactory,
    world: World,
    services: Services,
    database_url: str,
    tg_bot: BotState,
) -> None:
    await report_killed_at_date_and_submit(
        worker,
        phones,
        world,
        services,
        lambda phone, step: kill_before_the_step_is_stored(
            worker, services, database_url, tg_bot, phone, step
        ),
    )
    assert worker.starts == 3


async def test_a_worker_killed_after_the_step_is_stored_applies_the_redelivery_once(
    worker: WebhookWorker,
    phones: PhoneFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
) -> None:
    pupil, phone, steps = await teacher_a_at_the_date_step(worker, phones, world, services)

    # A typed date whose reply is lost: the redelivery changes nothing, and the teacher who sends the
    # date again (having seen no reply) is shown the step after it.
    typed = Step("absent_since", send(typed_yesterday()), steps[2].expect)
    await kill_while_replying(worker, emulator, tg_bot, phone, typed)
    async with services.uow() as uow:
        draft = await uow.drafts.get(phone.user_id)
        assert draft is not None and draft.step == "reason"
    assert replies(phone, typed.expect) == 0
    await typed.action(phone)
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m), timeout=30)

    for step in steps[3:-1]:
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)

    # The submit whose confirmation is lost: one case, and /mycases shows it.
    await kill_while_replying(worker, emulator, tg_bot, phone, steps[-1])
    assert await report_counts(services, pupil.id) == (1, 1)
    await phone.send("/mycases")
    listing = await phone.wait_for_reply(lambda m: "我的在办个案" in m["text"], timeout=30)
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None
    assert case.number in listing["text"] or any(case.number in b for b in buttons(listing))
    assert replies(phone, steps[-1].expect) == 0  # that reply really was lost, and never sent twice
    assert worker.starts == 3


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_worker_stopped_with_sigterm_finishes_the_update_it_holds(
    worker: WebhookWorker,
    phones: PhoneFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
) -> None:
    """uvicorn's graceful shutdown lets the request end: the reply goes out, Telegram gets its 200 from
    the stopping worker and sends the update only once."""
    _, phone, steps = await teacher_a_at_the_date_step(worker, phones, world, services)
    date = steps[2]
    await settled(tg_bot)
    emulator.inject_fault("*", "delay", 1, delay=2)
    await date.action(phone)
    update_id = int(tg_bot.history[-1]["update_id"])
    await call_held(emulator, "*")
    assert await worker.terminate() == -signal.SIGTERM  # uvicorn re-raises the signal once shut down
    assert acknowledged(tg_bot, update_id) and tg_bot.webhook_posts[update_id] == 1
    await phone.wait_for_reply(date.expect, timeout=30)
    assert replies(phone, date.expect) == 1
    async with services.uow() as uow:
        draft = await uow.drafts.get(phone.user_id)
        assert draft is not None and draft.step == "reason"
