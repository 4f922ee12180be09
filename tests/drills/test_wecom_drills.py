"""Drills of the WeCom callback path, on SQLite and PostgreSQL: a web worker killed with -9, and a
conversation while WeCom's API fails.

kill -9: WeCom is answered as soon as a callback is stored (it retries after 5 s), and the worker's processor then
applies it and sends the reply. The worker is killed at the worst moment: the step is stored (draft and
update log, one transaction) but its reply hangs in message/send. When the worker is back, the row still
in the inbox is handled again at start-up: the update log recognises it, nothing changes, and the reply
kept with it is sent then. A member's next answer goes on from there.

Faults: message/send answers "system busy" (-1), 5xx and "rate limited" (45009) on and off while a teacher
reports an absence. The client retries in place; when it gives up, the callback stays in the inbox and is
handled again later (its kept reply is sent, nothing is applied twice). The report is stored once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.container import Services
from bot.wecom.inbound import CHANNEL
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from tests.drills.conftest import report_counts
from tests.drills.procs import WebhookWorker, free_port, product_env
from tests.e2e.conftest import invite_code
from tests.factories import World
from tests.unit.test_wecom_crypto import CORP_ID, ENCODING_AES_KEY, TOKEN
from tests.waiting import until
from tests.wecom_chat import Chat, labels

AGENT_ID = 1000002
USERID = "drill-teacher"


@pytest.fixture
async def wecom() -> AsyncIterator[WeComEmulator]:
    emulator = WeComEmulator(
        corp_id=CORP_ID, agent_id=AGENT_ID, token=TOKEN, encoding_aes_key=ENCODING_AES_KEY
    )
    async with emulator:
        yield emulator


@pytest.fixture
async def worker(
    database_url: str, emulator: Emulator, tg_bot: BotState, wecom: WeComEmulator, tmp_path: Path
) -> AsyncIterator[WebhookWorker]:
    port = free_port()
    env = product_env(
        database_url,
        tg_bot.token,
        emulator.url,
        tmp_path / "media",
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET="drill-webhook-secret",
        WECOM_CORP_ID=CORP_ID,
        WECOM_AGENT_ID=str(AGENT_ID),
        WECOM_SECRET=wecom.state.secret,
        WECOM_TOKEN=TOKEN,
        WECOM_ENCODING_AES_KEY=ENCODING_AES_KEY,
        WECOM_API_BASE_URL=wecom.api_base_url,
    )
    process = WebhookWorker(env, tmp_path, port)
    wecom.connect(f"http://127.0.0.1:{port}/wecom/callback")
    try:
        yield process
    finally:
        await process.kill()


async def draft_of(services: Services) -> tuple[str, int] | None:
    async with services.uow() as uow:
        account = await uow.directory.account(CHANNEL, USERID)
        draft = await uow.drafts.get(account.id) if account is not None else None
        return (draft.step, draft.seq) if draft is not None else None


async def test_a_worker_killed_while_a_stored_step_is_answered_answers_it_after_restart(
    worker: WebhookWorker, wecom: WeComEmulator, services: Services, world: World
) -> None:
    await worker.start()
    pupil = world.student_in(world.class_a)
    chat = Chat(wecom.add_member(USERID), lambda: wecom.advance(1))
    await chat.send(await invite_code(services, world.staff["teacher_a"].id))
    await chat.wait_for("绑定成功")
    await chat.send("report")
    tail = pupil.student_number[-4:]
    await until(lambda: any(tail in b for s in chat.since for b in labels(s)), "the pupil list", 30)
    await chat.tap(next(b for s in chat.since for b in labels(s) if tail in b))
    await chat.wait_for("今天")
    before = await draft_of(services)
    assert before is not None

    # The reply to the next step hangs in message/send: the step is stored, its answer not yet sent.
    wecom.faults.inject("message/send", "timeout", count=50, delay=60.0)
    await chat.tap("昨天")
    async with asyncio.timeout(30):  # bounded: the processor stores the step before it answers
        while (now := await draft_of(services)) is None or now[1] == before[1]:
            await asyncio.sleep(0.05)
    stored = await draft_of(services)
    assert stored is not None and stored[1] == before[1] + 1, "the step was not stored before the kill"
    await worker.kill()
    wecom.faults.clear()

    await worker.start()  # the row left in the inbox is handled at start-up: its kept reply is sent
    await chat.wait_for("暂不清楚", timeout=60)
    assert await draft_of(services) == stored  # applied once: nothing changed on the replay
    await chat.tap("暂不清楚")
    await chat.wait_for("完成", timeout=60)
    after = await draft_of(services)
    assert after is not None and after[1] == stored[1] + 1


async def test_a_report_while_message_send_fails_is_stored_once_and_every_answer_arrives(
    worker: WebhookWorker, wecom: WeComEmulator, services: Services, world: World
) -> None:
    await worker.start()
    pupil = world.student_in(world.class_a)
    chat = Chat(wecom.add_member(USERID), lambda: wecom.advance(1))
    await chat.send(await invite_code(services, world.staff["teacher_a"].id))
    await chat.wait_for("绑定成功")

    # Each reply meets failures first: the client retries some in place, and gives up on others (then
    # the callback is handled again after the processor's pause).
    patience = 120.0
    wecom.faults.inject("message/send", "busy", count=2)
    await chat.send("report")
    tail = pupil.student_number[-4:]
    await until(lambda: any(tail in b for s in chat.since for b in labels(s)), "the pupil list", patience)
    wecom.faults.inject("message/send", "500", count=5)  # more than the client's attempts: it gives up
    await chat.tap(next(b for s in chat.since for b in labels(s) if tail in b))
    await chat.wait_for("今天", timeout=patience)
    wecom.faults.inject("message/send", "rate_limit", count=1)
    await chat.tap("昨天")
    await chat.wait_for("暂不清楚", timeout=patience)
    wecom.faults.inject("message/send", "busy", count=1)
    await chat.tap("暂不清楚")
    await chat.wait_for("完成", timeout=patience)
    await chat.tap("完成")
    await chat.wait_for("跳过", timeout=patience)
    await chat.tap("跳过")
    await chat.wait_for("✅ 提交", timeout=patience)
    wecom.faults.inject("message/send", "500", count=5)
    await chat.tap("✅ 提交")
    await chat.wait_for("个案编号", timeout=patience)

    assert {k: wecom.faults.injected[k] for k in ("busy", "500", "rate_limit")} == {
        "busy": 3,
        "500": 10,
        "rate_limit": 1,
    }
    assert await report_counts(services, pupil.id) == (1, 1)
