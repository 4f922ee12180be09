"""kill -9 of a webhook worker (uvicorn, `app.asgi:create --factory`) while it holds an update.

The worker answers the webhook request only after the update is applied, so the emulator, like
Telegram, never gets its 200 from the killed worker and sends the update again once the worker is
back. Two moments are drilled, each at the date step and at the final submit of /report:

- before the step is stored (the test holds the database's writes, so the worker cannot commit):
  the redelivered update applies the step, and the person gets its reply once;
- after the step is stored, while its reply is held by the emulator: the redelivered update is
  recognised by the update log and changes nothing, and the reply kept with it is sent then;
- after the step is stored, while the worker's rate limiter waits out a 429 to send the reply: the same.

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
from tests.accounts import draft_key
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
    emulator.faults.clear()  # the held call ends with the worker
    return await kill_and_redeliver(worker, tg_bot, update_id)


async def kill_and_redeliver(worker: WebhookWorker, tg_bot: BotState, update_id: int) -> int:
    """Kills the worker holding the update and starts it again; returns once the redelivery is answered."""
    await worker.kill()
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

    # A typed date whose reply dies with the worker: the redelivery changes nothing and sends the kept
    # reply, the step after it.
    typed = Step("absent_since", send(typed_yesterday()), steps[2].expect)
    await kill_while_replying(worker, emulator, tg_bot, phone, typed)
    await phone.wait_for_reply(typed.expect, timeout=30)
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "reason"
    assert replies(phone, typed.expect) == 1

    for step in steps[3:-1]:
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)

    # The submit whose confirmation dies with the worker: one case, the confirmation sent after the
    # redelivery, and /mycases shows the case.
    await kill_while_replying(worker, emulator, tg_bot, phone, steps[-1])
    await phone.wait_for_reply(steps[-1].expect, timeout=30)
    assert await report_counts(services, pupil.id) == (1, 1)
    await phone.send("/mycases")
    listing = await phone.wait_for_reply(lambda m: "我的在办个案" in m["text"], timeout=30)
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None
    assert case.number in listing["text"] or any(case.number in b for b in buttons(listing))
    assert replies(phone, steps[-1].expect) == 1  # sent by the redelivery, once
    assert worker.starts == 3


async def kill_in_the_retry_wait(
    worker: WebhookWorker, emulator: Emulator, tg_bot: BotState, phone: Phone, step: Step
) -> int:
    """Does the step with its reply refused by a 429 (retry after 5 s), kills the worker while its rate
    limiter waits to send it again, and starts it again; returns the update id once acknowledged."""
    await settled(tg_bot)
    refused = emulator.faults.injected["429"]
    emulator.inject_fault("sendMessage", "429", 1, retry_after=5)
    await step.action(phone)
    update_id = int(tg_bot.history[-1]["update_id"])
    await until(lambda: emulator.faults.injected["429"] > refused, "the reply to be refused with a 429")
    assert update_id in tg_bot.webhook_in_flight  # committed, waiting to retry: Telegram has no answer yet
    return await kill_and_redeliver(worker, tg_bot, update_id)


async def test_a_worker_killed_while_waiting_out_a_429_sends_the_reply_after_the_redelivery(
    worker: WebhookWorker,
    phones: PhoneFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
) -> None:
    pupil, phone, steps = await teacher_a_at_the_date_step(worker, phones, world, services)
    date = steps[2]
    update_id = await kill_in_the_retry_wait(worker, emulator, tg_bot, phone, date)
    assert await stored(services, update_id)
    await phone.wait_for_reply(date.expect, timeout=30)
    assert replies(phone, date.expect) == 1
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "reason"

    for step in steps[3:-1]:
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=30)

    await kill_in_the_retry_wait(worker, emulator, tg_bot, phone, steps[-1])
    await phone.wait_for_reply(steps[-1].expect, timeout=30)
    assert replies(phone, steps[-1].expect) == 1
    assert await report_counts(services, pupil.id) == (1, 1)
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
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "reason"
