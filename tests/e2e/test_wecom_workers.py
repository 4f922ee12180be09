"""Several web workers answering WeCom, on SQLite and PostgreSQL: two live product processes behind one
callback URL (the emulator sends each callback to them in turn) drain one inbox while many members write
at once; every message is answered exactly once, each member's in the order sent. A worker killed while
handling a message leaves it to another once its claim lapses. A reply WeCom refuses is tried again after
a wait that doubles with each failure, the member's later messages behind it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.container import Services
from bot.conversations.catalogue import FORMS, help_text
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import FormContext, Input, Text
from bot.wecom import inbound
from bot.wecom.api import App, RetryPolicy, WeComClient
from bot.wecom.claims import CLAIM_FOR
from bot.wecom.inbound import CHANNEL, pending
from bot.wecom.processor import WeComProcessor
from bot.wecom.tokens import DatabaseTokenStore
from domain.clock import FixedClock
from domain.people.invites import redeem_invite
from domain.people.roles import Role
from i18n import t
from sandbox.wecom import WeComEmulator
from sandbox.wecom.members import Member
from storage.models import InboxUpdate, Staff
from tests.e2e.conftest import WECOM_AGENT_ID, invite_code, wecom_handled, wecom_settings
from tests.factories import CREATED, World
from tests.unit.test_wecom_crypto import CORP_ID
from tests.waiting import until
from tests.web.live import live_server
from tests.wecom_chat import words

MEMBERS = 6
# One command after another whose answers differ, twice over: an answer out of place is a message handled
# out of order, a missing or extra one a message lost or answered twice.
COMMANDS = ["/help", "/mycases", "/cancel", "/language"] * 2


def answers(language: str = "zh_CN") -> dict[str, str]:
    """What a class teacher with no case and no open form reads after each command (a card: its title)."""
    return {
        "/help": help_text(language, Role.CLASS_TEACHER),
        "/mycases": t(language, "mycases.empty"),
        "/cancel": t(language, "form.nothing_to_cancel"),
        "/language": t(language, "language.choose"),
    }


@pytest.fixture
def two_workers(
    database_url: str, tmp_path: Path, clock: FixedClock, wecom_emu: WeComEmulator
) -> Iterator[tuple[str, str]]:
    """Two product processes (each its own engine and WeCom processor) on one database, behind one
    callback URL that sends each callback to them in turn."""
    settings = wecom_settings(wecom_emu)
    with (
        live_server(database_url, tmp_path / "media", clock, **settings) as first,
        live_server(database_url, tmp_path / "media", clock, **settings) as second,
    ):
        wecom_emu.connect(f"{first}/wecom/callback", f"{second}/wecom/callback")
        yield first, second


async def bound_members(
    services: Services, world: World, emu: WeComEmulator, clock: FixedClock, count: int
) -> list[Member]:
    """`count` class teachers of the world's school, each bound to a member of the WeCom app."""
    async with services.uow() as uow:
        staff = [
            Staff(name=f"教师{n}", phone=f"1390000{n:04d}", role=Role.CLASS_TEACHER.value, created_at=CREATED,
                  active=True, school_id=world.school.id)
            for n in range(count)
        ]  # fmt: skip
        uow.session.add_all(staff)
        await uow.commit()
    members = []
    for n, person in enumerate(staff):
        code = await invite_code(services, person.id)
        async with services.uow() as uow:
            await redeem_invite(
                uow, code, channel=CHANNEL, account=f"worker{n}", conversation=f"worker{n}",
                reported_language=None, now=clock.now(),
            )  # fmt: skip
            await uow.commit()
        members.append(emu.add_member(f"worker{n}"))
    return members


async def test_two_workers_answer_every_message_once_and_each_members_in_order(
    services: Services,
    world: World,
    clock: FixedClock,
    wecom_emu: WeComEmulator,
    two_workers: tuple[str, str],
) -> None:
    members = await bound_members(services, world, wecom_emu, clock, MEMBERS)

    async def write(member: Member) -> None:
        for command in COMMANDS:  # one after another, without waiting for the answers
            assert (await member.send_text(command)).delivered

    await asyncio.gather(*(write(m) for m in members))
    await until(
        lambda: all(len(m.received) >= len(COMMANDS) for m in members), "an answer to every message", 60
    )
    await wecom_handled(services, timeout=30)
    expected = [answers()[c] for c in COMMANDS]
    for member in members:
        assert [words(s) for s in member.received] == expected, member.userid


class Stuck(Conversations):
    """The forms, except that the text "卡住" never finishes (a worker hanging when it is killed)."""

    async def handle(self, ctx: FormContext, conversation: int, given: Input) -> Outcome:
        if isinstance(given, Text) and given.text == "卡住":
            await asyncio.Event().wait()
        return await super().handle(ctx, conversation, given)


def processor(services: Services, emu: WeComEmulator, conversations: Conversations) -> WeComProcessor:
    client = WeComClient(
        App(CORP_ID, WECOM_AGENT_ID, emu.state.secret),
        base_url=emu.api_base_url,
        tokens=DatabaseTokenStore(services.uow),
        clock=services.clock,
        retry=RetryPolicy(attempts=1, first_wait=0.01, max_wait=0.01, timeout=5.0),
    )
    return WeComProcessor(services, client, conversations, WECOM_AGENT_ID)


async def keep_text(services: Services, userid: str, content: str, msg_id: int, sent: int) -> None:
    fields = {
        "ToUserName": CORP_ID, "FromUserName": userid, "CreateTime": str(sent), "MsgType": "text",
        "Content": content, "MsgId": str(msg_id), "AgentID": str(WECOM_AGENT_ID),
    }  # fmt: skip
    async with services.uow() as uow:
        await inbound.keep(uow, fields, services.clock.now(), WECOM_AGENT_ID)
        await uow.commit()


async def claimed_by(services: Services, update_id: int) -> str | None:
    async with services.uow() as uow:
        row = await uow.session.get(InboxUpdate, (CHANNEL, WECOM_AGENT_ID, update_id))
        return row.claimed_by if row is not None else None


async def test_a_message_a_killed_worker_was_handling_is_taken_over_once_its_claim_lapses(
    services: Services, world: World, clock: FixedClock, wecom_emu: WeComEmulator
) -> None:
    (member,) = await bound_members(services, world, wecom_emu, clock, 1)
    sent = int(clock.now().timestamp())
    await keep_text(services, member.userid, "卡住", 9001, sent)
    await keep_text(services, member.userid, "/help", 9002, sent + 1)
    killed, survivor = (
        processor(services, wecom_emu, Stuck(FORMS)),
        processor(services, wecom_emu, Stuck(FORMS)),
    )
    try:
        hanging = asyncio.create_task(killed.drain())
        for _ in range(500):  # bounded: until the first worker holds the message
            if await claimed_by(services, 9001) == killed.holder:
                break
            await asyncio.sleep(0.02)
        assert await claimed_by(services, 9001) == killed.holder
        hanging.cancel()  # killed: its claim is neither finished nor released
        with pytest.raises(asyncio.CancelledError):
            await hanging

        assert await survivor.drain() == 0  # held by the killed worker; /help waits behind it
        assert member.received == []
        clock.advance(CLAIM_FOR + timedelta(seconds=1))
        survivor.conversations = Conversations(FORMS)  # the message no longer hangs anyone
        assert await survivor.drain() == 2
    finally:
        await killed.client.aclose()
        await survivor.client.aclose()
    async with services.uow() as uow:
        assert not await pending(uow, WECOM_AGENT_ID)
    # "卡住" is no command: the survivor says what the member can do; then the help, once each.
    assert [words(s) for s in member.received][1:] == [help_text("zh_CN", Role.CLASS_TEACHER)]
    assert len(member.received) == 2


async def attempts_and_wait(services: Services, update_id: int) -> tuple[int, timedelta | None]:
    """How many tries of the row failed, and how long from now it waits."""
    async with services.uow() as uow:
        row = await uow.session.get(InboxUpdate, (CHANNEL, WECOM_AGENT_ID, update_id))
        assert row is not None
        until = row.claimed_until
        return row.attempts, None if until is None else until - services.clock.now()


async def test_a_reply_wecom_refuses_is_tried_again_ever_later_and_the_members_next_message_waits(
    services: Services, world: World, clock: FixedClock, wecom_emu: WeComEmulator
) -> None:
    """WeCom answering 500: the message waits 1 s, then 2 s, … (not tried before, so WeCom is not
    hammered), the member's next message behind it; once WeCom is back both are answered, in order."""
    (member,) = await bound_members(services, world, wecom_emu, clock, 1)
    sent = int(clock.now().timestamp())
    await keep_text(services, member.userid, "/help", 9101, sent)
    await keep_text(services, member.userid, "/mycases", 9102, sent + 1)
    wecom_emu.faults.inject("message/send", "500", count=3)
    worker = processor(services, wecom_emu, Conversations(FORMS))  # one attempt per call: no quick retries
    try:
        for failures, wait in ((1, 1), (2, 2), (3, 4)):
            assert await worker.drain() == 0
            assert await attempts_and_wait(services, 9101) == (failures, timedelta(seconds=wait))
            calls = wecom_emu.state.calls["message/send"]
            clock.advance(timedelta(seconds=wait) - timedelta(milliseconds=1))
            assert await worker.drain() == 0  # still waiting: WeCom is not asked again
            assert wecom_emu.state.calls["message/send"] == calls
            clock.advance(timedelta(milliseconds=2))
        assert await worker.drain() == 2
    finally:
        await worker.client.aclose()
    assert [words(s) for s in member.received] == [
        help_text("zh_CN", Role.CLASS_TEACHER),
        t("zh_CN", "mycases.empty"),
    ]


async def test_after_a_short_blip_the_running_processor_answers_without_a_wake(
    services: Services, world: World, clock: FixedClock, wecom_emu: WeComEmulator
) -> None:
    """One refused send: the processor, left running, tries again by itself once the first wait is over
    (a second, not the half minute it used to wait for a wake)."""
    (member,) = await bound_members(services, world, wecom_emu, clock, 1)
    await keep_text(services, member.userid, "/help", 9201, int(clock.now().timestamp()))
    wecom_emu.faults.inject("message/send", "500", count=1)
    worker = processor(services, wecom_emu, Conversations(FORMS))
    await worker.start()
    try:
        for _ in range(500):  # bounded: until the first try has failed
            if (await attempts_and_wait(services, 9201))[0] == 1:
                break
            await asyncio.sleep(0.02)
        assert await attempts_and_wait(services, 9201) == (1, timedelta(seconds=1))
        clock.advance(timedelta(seconds=1, milliseconds=1))
        # No wake: the processor's own timer is the first wait (1 s), so 10 s is ample; it was 30 s.
        await until(lambda: len(member.received) == 1, "the answer once WeCom takes it", timeout=10)
        await wecom_handled(services)
    finally:
        await worker.stop()
        await worker.client.aclose()
    assert [words(s) for s in member.received] == [help_text("zh_CN", Role.CLASS_TEACHER)]
