"""Reminders delivered to each person on their channel, Telegram (the Bot API emulator) or WeCom (the WeCom
emulator), over HTTP, on SQLite and PostgreSQL, with a clock moved by hand: buttons and snoozes, quiet
hours, a worker killed between claim and send, the channel failing for a while or for good, a person who
blocked the bot or left the corp, two senders at once, and 2 000 reminders without a single 429.

Most tests run on both channels (the `channel` fixture): a `Recipient` (tests/e2e/recipients.py) reads
what arrived, a `Person` taps. The sender always runs both channels, as a county configured for both."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.request import HTTPXRequest

from app.container import Services, build_services
from app.scheduler import ReminderScheduler
from bot.limits import SendLimiter
from bot.messenger import ChannelMessenger, Messengers, TelegramMessenger
from bot.sender import ReminderSender
from bot.wecom.api import WeComClient
from bot.wecom.messenger import WeComMessenger, default_limiter
from domain.audit import Actor
from domain.casework.cases import change_status
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from domain.policy import DEFAULT_POLICY
from domain.privacy.identity import mask_name
from domain.reminders.digest import build_digests
from sandbox.emulator import Emulator
from sandbox.phone import Phone, Predicate
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from storage.db import make_engine, make_sessionmaker
from storage.models import CaseEvent, ChannelAccount, Reminder
from storage.uow import UnitOfWorkFactory
from tests.e2e.conftest import PersonFactory
from tests.e2e.people import TELEGRAM, WECOM
from tests.e2e.recipients import (
    InboxOf,
    RecipientFactory,
    TelegramRecipient,
    WeComRecipient,
    bind_account,
    forge_tap,
    inbox,
    recipient,
    services,
    wecom_client,
)
from tests.e2e.reminding import tap_for_answer
from tests.e2e.test_runner import running, settings_for
from tests.factories import World, add_overdue_caseload, build_world
from tests.integration.test_reminders import report

TZ = ZoneInfo("Asia/Shanghai")
SNOOZE = "⏰ 明天提醒我"
__all__ = ["inbox", "recipient", "services", "wecom_client"]  # fixtures, for this module's tests


@pytest.fixture
async def sender_bot(emulator: Emulator, tg_bot: BotState) -> AsyncIterator[Bot]:
    """The Bot the scheduler sends with; a short read timeout so injected timeouts are quick."""
    request = HTTPXRequest(connection_pool_size=32, read_timeout=1.0, write_timeout=5.0, pool_timeout=10.0)
    bot = Bot(tg_bot.token, base_url=emulator.base_url, base_file_url=emulator.file_base_url, request=request)
    await bot.initialize()
    yield bot
    await bot.shutdown()


def make_sender(
    services: Services,
    bot: Bot | None,
    *,
    uow: UnitOfWorkFactory | None = None,
    worker: str = "test",
    limiter: SendLimiter | None = None,
    wecom: WeComClient | None = None,
    wecom_limiter: SendLimiter | None = None,
) -> ReminderSender:
    """A sender on Telegram (with `bot`) and on WeCom (with `wecom`), each paced by its own limiter."""
    channels: dict[str, ChannelMessenger] = {}
    if bot is not None:
        channels[TELEGRAM] = TelegramMessenger(bot, limiter or SendLimiter())
    if wecom is not None:
        channels[WECOM] = WeComMessenger(wecom, wecom_limiter)
    return ReminderSender(
        uow or services.uow,
        Messengers(channels),
        policy=services.policy,
        tz=services.tz,
        clock=services.clock,
        worker=worker,
        retry_pause=0.05,
    )


async def bind_directly(services: Services, emulator: Emulator, tg_bot: BotState, staff_id: int) -> int:
    """A staff member linked to a started emulator chat without going through /start (fast setup)."""
    user = emulator.create_user(first_name=f"staff{staff_id}", language_code="zh-hans")
    emulator.registry.chat(emulator.bot(tg_bot.token), user["id"]).started = True
    async with services.uow() as uow:
        uow.session.add(
            ChannelAccount(
                staff_id=staff_id,
                channel="telegram",
                account=str(user["id"]),
                conversation=str(user["id"]),
                bound_at=services.clock.now(),
            )
        )
        await uow.commit()
    return int(user["id"])


def received(emulator: Emulator, tg_bot: BotState, user_id: int) -> list[dict]:  # type: ignore[type-arg]
    chat = emulator.registry.chat(emulator.bot(tg_bot.token), user_id)
    return [m.data for _, m in sorted(chat.messages.items()) if m.from_bot]


async def reminder_rows(services: Services, repeats: bool = False, **where: object) -> list[Reminder]:
    """Reminder rows (without the "still overdue" repeats unless asked for)."""
    async with services.uow() as uow:
        q = select(Reminder).filter_by(**where).order_by(Reminder.id)
        found = list((await uow.session.scalars(q)).all())
    return [r for r in found if repeats or "#r" not in r.dedupe_key]


async def timeline(services: Services, case_id: int) -> list[str]:
    async with services.uow() as uow:
        return [e.kind for e in await uow.cases.events(case_id)]


async def create_overdue_cases(
    services: Services, emulator: Emulator, tg_bot: BotState, world: World, *, teachers: int, per_teacher: int
) -> list[int]:
    """Many teachers, each responsible for many freshly opened cases, with the reminders planning
    would write (computed by the same rules, inserted in bulk to keep the setup short)."""
    async with services.uow() as uow:
        staff = await add_overdue_caseload(
            uow,
            world,
            services.policy,
            TZ,
            teachers=teachers,
            per_teacher=per_teacher,
            now=services.clock.now(),
        )
        await uow.commit()
    return [await bind_directly(services, emulator, tg_bot, s.id) for s in staff]


async def answer(phone: Phone, count: int) -> str:
    for _ in range(100):
        await phone.refresh()
        if len(phone.callback_answers) >= count:
            return str(phone.callback_answers[count - 1].get("text", ""))
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not answer the tap")


def says(text: str) -> Predicate:
    """A message containing `text` (fixed now, so safe to build inside a loop)."""
    return lambda m: text in m["text"]


@pytest.fixture
def sender(services: Services, sender_bot: Bot, wecom_client: WeComClient) -> ReminderSender:
    """The sender of a county running both channels: each person is written to on theirs."""
    return make_sender(services, sender_bot, wecom=wecom_client)


async def test_teacher_gets_one_message_with_buttons_and_may_snooze_twice(
    person: PersonFactory, inbox: InboxOf, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await person("teacher_a")
    case = await report(services.uow, world, services.clock, services.policy)
    assert await sender.drain() == 0  # nothing due yet
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    said = await teacher.expect("家访提醒")
    assert said.buttons == ["📝 现在记录家访", SNOOZE]
    [msg] = [m for m in inbox(teacher).messages() if "家访提醒" in m.text]
    pupil = world.student_in(world.class_a)
    assert pupil.name not in msg.text and mask_name(pupil.name) in msg.text and case.number in msg.text
    assert msg.actions[0] == f"go:visit:{case.id}"  # what the tap sends back, the same on both channels
    for n in (1, 2):
        assert "再提醒您" in await tap_for_answer(teacher, SNOOZE)
        assert await sender.drain() == 0  # postponed, not resent at once
        services.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        assert await sender.drain() == 1
        await teacher.expect(f"已推迟 {n} 次")
    assert "不能再推迟" in await tap_for_answer(teacher, SNOOZE)
    kinds = await timeline(services, case.id)
    assert kinds.count("reminder_sent") == 3 and kinds.count("reminder_snoozed") == 2
    assert sum("家访提醒" in m.text for m in inbox(teacher).messages()) == 3


async def test_quiet_hours_hold_a_reminder_until_the_morning(
    recipient: RecipientFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await recipient("teacher_a")
    services.clock.set(datetime(2026, 10, 13, 23, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    await report(services.uow, world, services.clock, services.policy)
    services.clock.set(datetime(2026, 10, 16, 23, 0, tzinfo=TZ))  # type: ignore[attr-defined]  # due now
    assert await sender.drain() == 0
    services.clock.set(datetime(2026, 10, 17, 7, 29, tzinfo=TZ))  # type: ignore[attr-defined]
    assert await sender.drain() == 0
    assert teacher.messages() == []
    services.clock.set(datetime(2026, 10, 17, 7, 30, tzinfo=TZ))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    assert len(teacher.messages()) == 1


async def test_reminders_due_while_the_system_was_down_are_sent_when_it_is_back(
    recipient: RecipientFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await recipient("teacher_a")
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3, hours=13))  # type: ignore[attr-defined]  # back at 22:00: quiet
    assert await sender.drain() == 0
    services.clock.advance(timedelta(hours=10))  # type: ignore[attr-defined]  # 08:00 next day
    assert await sender.drain() == 1
    assert len(teacher.messages()) == 1


async def test_killed_between_claim_and_send_is_sent_once_after_the_lease(
    recipient: RecipientFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
    wecom_client: WeComClient,
) -> None:
    teacher = await recipient("teacher_a")
    case = await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    dead = make_sender(services, sender_bot, worker="dead", wecom=wecom_client)
    assert len(await dead.claim(10)) == 1  # ... and the process is killed before sending
    survivor = make_sender(services, sender_bot, worker="survivor", wecom=wecom_client)
    assert await survivor.drain() == 0  # the claim is still held
    services.clock.advance(services.policy.reminders.claim_lease + timedelta(seconds=1))  # type: ignore[attr-defined]
    assert await survivor.drain() == 1
    assert await survivor.drain() == 0
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert await survivor.drain() == 0
    [message] = teacher.messages()
    [row] = await reminder_rows(services, case_id=case.id, kind="first_visit")
    assert (row.state, row.claimed_by, row.attempts) == ("sent", "survivor", 2)
    assert row.sent_ref == message.ref


# Each channel's ways of failing for a while. Telegram: 429 (retry_after), 5xx, a call abandoned after
# the read timeout (the Bot API emulator drops a call its client gave up on). WeCom: errcode -1 (busy),
# 45033 (too many at once), HTTP 500. WeCom's 45009 (a per-minute quota) is not here: it waits a minute.
# Nor is a WeCom timeout: the emulator, as WeCom may, still delivers a call its client gave up on, and no
# channel has an idempotency key, so that message can arrive twice (bot.sender's docstring).
FAULTS = [
    *((TELEGRAM, f) for f in ("429", "500", "502", "timeout")),
    *((WECOM, f) for f in ("busy", "concurrency", "500")),
]


@pytest.mark.parametrize(("channel", "fault"), FAULTS)
async def test_channel_failures_for_a_while_still_deliver_exactly_once(
    channel: str,
    fault: str,
    recipient: RecipientFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    wecom_emu: WeComEmulator,
    sender: ReminderSender,
) -> None:
    teachers = [await recipient(w) for w in ("teacher_a", "teacher_b")]
    await report(services.uow, world, services.clock, services.policy)
    await report(
        services.uow, world, services.clock, services.policy, who="teacher_b", in_class=world.class_b
    )
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    if channel == TELEGRAM:
        # A timeout: the emulator stalls longer than the Bot's read timeout and the call is abandoned.
        delay = 3.0 if fault == "timeout" else 0.0
        emulator.inject_fault("sendMessage", fault, 2, retry_after=1, delay=delay)
    else:
        wecom_emu.faults.inject("message/send", fault, 2)
    assert await sender.drain() == 2
    assert [len(t.messages()) for t in teachers] == [1, 1]
    if channel == TELEGRAM:
        assert emulator.stats()["faults"]["injected"] == {fault: 2}
    else:
        assert dict(wecom_emu.faults.injected) == {fault: 2}
    rows = await reminder_rows(services, kind="first_visit")
    assert {r.state for r in rows} == {"sent"}


async def test_a_send_failing_for_good_is_marked_failed_and_shown_in_the_timeline(
    channel: str,
    recipient: RecipientFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    wecom_emu: WeComEmulator,
    sender: ReminderSender,
) -> None:
    teacher = await recipient("teacher_a")
    case = await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    if channel == TELEGRAM:
        emulator.inject_fault("sendMessage", "500", 100)
    else:
        wecom_emu.faults.inject("message/send", "500", 100)
    assert await sender.drain() == 0
    [row] = await reminder_rows(services, case_id=case.id, kind="first_visit")
    error = {TELEGRAM: "Internal Server Error", WECOM: "WeComUnavailable"}[channel]
    assert (row.state, row.attempts) == ("pending", 3) and error in (row.last_error or "")
    assert row.send_after > services.clock.now()  # backing off, not hammering
    services.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    assert await sender.drain() == 0
    [row] = await reminder_rows(services, case_id=case.id, kind="first_visit")
    assert row.state == "failed" and row.attempts >= services.policy.reminders.max_attempts
    assert "reminder_failed" in await timeline(services, case.id)
    emulator.faults.clear()
    wecom_emu.faults.clear()
    services.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    assert await sender.drain() == 0 and teacher.messages() == []  # failed stays failed


async def test_an_unreachable_teacher_is_marked_and_the_principal_told_in_the_digest(
    channel: str, recipient: RecipientFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    """Telegram: the teacher blocked the bot (403). WeCom: the member left the corp (81013)."""
    teacher = await recipient("teacher_a")
    principal = await recipient("principal")
    teacher.cut_off()
    case = await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]  # Friday 09:00
    assert await sender.drain() == 0
    [row] = await reminder_rows(
        services, case_id=case.id, kind="first_visit", recipient_id=world.staff["teacher_a"].id
    )
    refusal = {TELEGRAM: "Forbidden", WECOM: "UnreachableMember"}[channel]
    assert row.state == "unreachable" and refusal in (row.last_error or "")
    async with services.uow() as uow:
        binding = await uow.directory.account_for_staff(world.staff["teacher_a"].id)
        assert binding is not None and binding.channel == channel
        assert binding.unreachable_since == services.clock.now()
    instead = await reminder_rows(
        services, case_id=case.id, kind="first_visit", recipient_id=world.staff["principal"].id
    )
    assert [(r.state, r.channel) for r in instead] == [("pending", "digest")]
    services.clock.set(datetime(2026, 10, 17, 8, 0, tzinfo=TZ))  # type: ignore[attr-defined]  # next digest
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await sender.drain() == 1
    [digest] = principal.messages()
    assert "每日督办" in digest.text and "王老师 无法通过 Telegram 或企业微信联系" in digest.text
    assert world.school.name in digest.text
    assert teacher.messages() == []
    kinds = await timeline(services, case.id)
    assert "reminder_unreachable" in kinds and "reminder_rerouted" in kinds and "escalated" in kinds


async def test_two_senders_with_their_own_engines_send_each_reminder_once(
    recipient: RecipientFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
    wecom_client: WeComClient,
    database_url: str,
) -> None:
    """Two schedulers (here: two sender loops, each with its own engine and worker id) on one database."""
    teachers = [await recipient(t) for t in ("teacher_a", "teacher_b")]
    for n in range(4):
        for who, cls in (("teacher_a", world.class_a), ("teacher_b", world.class_b)):
            await report(services.uow, world, services.clock, services.policy, who=who, in_class=cls, pupil=n)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    engines = [make_engine(database_url) for _ in range(2)]
    # one process here, so one budget per channel, as in production
    shared, shared_wecom = SendLimiter(), default_limiter()
    try:
        senders = [
            make_sender(
                services,
                sender_bot,
                uow=UnitOfWorkFactory(make_sessionmaker(e)),
                worker=f"w{i}",
                limiter=shared,
                wecom=wecom_client,
                wecom_limiter=shared_wecom,
            )
            for i, e in enumerate(engines)
        ]
        for s in senders:
            s.batch = 2  # small claims, so both really take part
        counts = await asyncio.gather(*(s.drain() for s in senders))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(counts) == 8 and all(counts)
    assert [len(t.messages()) for t in teachers] == [4, 4]
    rows = await reminder_rows(services, kind="first_visit")
    assert {r.state for r in rows} == {"sent"} and {r.claimed_by for r in rows} == {"w0", "w1"}
    assert len({(r.recipient_id, r.sent_ref) for r in rows}) == 8
    assert {r.sent_ref for r in rows} == {m.ref for t in teachers for m in t.messages()}


async def wait_until_sent(services: Services, count: int) -> list[Reminder]:
    """The sent visit reminders, once there are `count` of them (bounded)."""
    async with asyncio.timeout(30):
        while len(sent := await reminder_rows(services, kind="first_visit", state="sent")) < count:
            await asyncio.sleep(0.05)
    return sent


async def test_of_two_schedulers_only_the_leader_sends_and_the_standby_takes_over_when_it_dies(
    recipient: RecipientFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
    wecom_client: WeComClient,
    database_url: str,
) -> None:
    """Two schedulers with their own engines and rate limiters, as two processes on one database."""
    teachers = [await recipient(t) for t in ("teacher_a", "teacher_b")]

    async def two_reports_each(first_pupil: int) -> None:
        for n in (first_pupil, first_pupil + 1):
            for who, cls in (("teacher_a", world.class_a), ("teacher_b", world.class_b)):
                await report(
                    services.uow, world, services.clock, services.policy, who=who, in_class=cls, pupil=n
                )
        services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]  # far past the leader lease

    await two_reports_each(0)
    engines = [make_engine(database_url) for _ in range(2)]
    schedulers = []
    for name, engine in zip("ab", engines, strict=True):
        own = dataclasses.replace(services, engine=engine, uow=UnitOfWorkFactory(make_sessionmaker(engine)))
        sender = make_sender(
            own, sender_bot, uow=own.uow, worker=name, limiter=SendLimiter(), wecom=wecom_client
        )
        schedulers.append(ReminderScheduler(own, sender_bot, wake_every=0.2, renew_every=0.05, sender=sender))
    leader, standby = schedulers
    try:
        for scheduler in schedulers:
            await scheduler.start()
        assert leader.leadership.holds() and not standby.leadership.holds()
        assert {r.claimed_by for r in await wait_until_sent(services, 4)} == {"a"}
        # The leader dies without a word (kill -9: no resignation); its lease runs out.
        await leader.leadership.stop(resign=False)
        leader.scheduler.shutdown(wait=False)
        await two_reports_each(2)
        sent = await wait_until_sent(services, 8)
        assert standby.leadership.holds()
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
        for engine in engines:
            await engine.dispose()
    assert [r.claimed_by for r in sent] == ["a"] * 4 + ["b"] * 4
    assert (leader.sender.sent, standby.sender.sent) == (4, 4)
    assert [len(t.messages()) for t in teachers] == [4, 4]
    assert len({(r.recipient_id, r.sent_ref) for r in sent}) == 8


async def test_coordinators_get_one_digest_a_day_not_one_message_per_case(
    recipient: RecipientFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher, principal, township = [await recipient(w) for w in ("teacher_a", "principal", "township")]
    for n in range(3):
        await report(services.uow, world, services.clock, services.policy, pupil=n)
    for day in range(15, 25):  # ten mornings and evenings
        for hour in (8, 18):
            services.clock.set(datetime(2026, 10, day, hour, 0, tzinfo=TZ))  # type: ignore[attr-defined]
            await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ)
            await sender.drain()
    principals, townships = principal.messages(), township.messages()
    assert len(principals) == 1 and len(townships) == 1  # one digest each; nothing new after that
    assert principals[0].text.count("逾期未办：首次家访") == 3
    assert townships[0].text.count("逾期未办：首次家访") == 3
    assert principals[0].buttons == ["🙋 我来跟进 1", "🙋 我来跟进 2", "🙋 我来跟进 3"]
    # Teachers: one message per case, and one more a week after it fell due while it is still not done.
    teachers = teacher.messages()
    assert len(teachers) == 6 and sum("已逾期" in m.text for m in teachers) == 3
    async with services.uow() as uow:
        escalated = (await uow.session.scalars(select(CaseEvent).where(CaseEvent.kind == "escalated"))).all()
    assert len(escalated) == 6


# Telegram's flood limits (30/s per bot, 1/s per chat), which the Bot API emulator enforces. WeCom's
# emulator enforces no rate limit; WeCom's pacing (bot.wecom.messenger) is covered by its unit tests.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_2000_reminders_are_sent_without_a_single_429(
    world: World, services: Services, emulator: Emulator, tg_bot: BotState, sender_bot: Bot
) -> None:
    """THE SLOW TEST (~72 s: 2 000 messages at 28 a second). Run once, on SQLite (the default deployment;
    PostgreSQL's claiming is covered by the tests above): 100 teachers with 20 overdue cases each, the
    emulator enforcing Telegram's flood limits (30/s per bot, 1/s per chat)."""
    chats = await create_overdue_cases(services, emulator, tg_bot, world, teachers=100, per_teacher=20)
    emulator.reset_counters()
    services.clock.advance(timedelta(days=3, hours=1))  # type: ignore[attr-defined]
    started = asyncio.get_running_loop().time()
    assert await make_sender(services, sender_bot).drain() == 2000
    elapsed = asyncio.get_running_loop().time() - started
    stats = emulator.stats()
    assert stats["too_many_requests"]["total"] == 0
    assert [len(received(emulator, tg_bot, c)) for c in chats] == [20] * 100
    assert elapsed > 2000 / services.policy.reminders.messages_per_second - 5  # the limiter, not luck


async def test_the_scheduler_replans_at_start_and_sends_what_is_due(
    recipient: RecipientFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
    wecom_client: WeComClient,
) -> None:
    """Restarting with an edited policy moves pending reminders; the periodic tick then sends them."""
    teacher = await recipient("teacher_a")
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=1, hours=1))  # type: ignore[attr-defined]
    services.policy = dataclasses.replace(services.policy, first_visit_due=timedelta(days=1))  # edited file
    sender = make_sender(services, sender_bot, worker="scheduler", wecom=wecom_client)
    scheduler = ReminderScheduler(services, sender_bot, wake_every=0.2, sender=sender)
    await scheduler.start()
    try:
        async with asyncio.timeout(10):
            while not teacher.messages():
                await asyncio.sleep(0.1)
    finally:
        await scheduler.stop()
    assert len(teacher.messages()) == 1


async def test_notoneless_run_sends_due_reminders_in_process(
    channel: str, database_url: str, tmp_path: Path
) -> None:
    """The whole system, both channels configured: a reminder already due is sent by the in-process
    scheduler, on the channel the teacher is bound on."""
    quiet_free = tmp_path / "policy.toml"
    quiet_free.write_text(
        DEFAULT_POLICY.read_text(encoding="utf-8")
        .replace('start = "21:00"', 'start = "00:00"')
        .replace('end = "07:30"', 'end = "00:00"'),
        encoding="utf-8",
    )
    async with Emulator() as emulator, WeComEmulator() as wecom:
        tg = emulator.create_bot(username="nol_sched_bot")
        settings = settings_for(
            database_url,
            tmp_path,
            telegram_bot_token=tg.token,
            telegram_api_base_url=emulator.base_url,
            telegram_file_base_url=emulator.file_base_url,
            policy_file=str(quiet_free),
            wecom_corp_id=wecom.state.corp_id,
            wecom_agent_id=wecom.state.agent_id,
            wecom_secret=wecom.state.secret,
            wecom_token=wecom.token,
            wecom_encoding_aes_key=wecom.encoding_aes_key,
            wecom_api_base_url=wecom.api_base_url,
        )
        services = build_services(settings, FixedClock(datetime.now(UTC) - timedelta(days=4)))
        teacher: TelegramRecipient | WeComRecipient
        try:
            world = await build_world(services.uow)
            staff_id = world.staff["teacher_a"].id
            if channel == TELEGRAM:
                teacher = TelegramRecipient(
                    emulator, tg, await bind_directly(services, emulator, tg, staff_id)
                )
            else:
                wecom.add_member("wang")
                await bind_account(services, staff_id, WECOM, "wang")
                teacher = WeComRecipient(wecom, "wang")
            await report(services.uow, world, services.clock, services.policy)
        finally:
            await services.close()
        async with running(settings):
            async with asyncio.timeout(10):
                while not teacher.messages():
                    await asyncio.sleep(0.1)
        assert ["家访提醒" in m.text for m in teacher.messages()] == [True]
        assert emulator.stats()["calls"].get("sendMessage", 0) == (1 if channel == TELEGRAM else 0)


async def test_log_the_visit_now_opens_the_visit_form_on_that_case(
    person: PersonFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await person("teacher_a")
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    await teacher.expect("家访提醒")
    await teacher.tap("📝 现在记录家访")
    ask = await teacher.expect(lambda s: bool(s.buttons))
    assert "今天" in ask.buttons  # the case was preset: the form goes straight to the visit date


async def test_retention_check_buttons_record_the_checks_and_close_the_case(
    person: PersonFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await person("teacher_a")
    case = await report(services.uow, world, services.clock, services.policy)
    async with services.uow() as uow:
        found = await uow.cases.get(case.id)
        assert found is not None
        found.returned_on = services.clock.now().astimezone(TZ).date()
        for target in (CaseStatus.RETURNED, CaseStatus.RETENTION):
            await change_status(
                uow,
                found,
                target,
                Actor.system("test"),
                now=services.clock.now(),
                policy=services.policy,
                tz=TZ,
            )
        await uow.commit()
    for check, (days, reply) in enumerate(((14, "第 1/2 次回访"), (16, "审批销号")), start=1):
        services.clock.advance(timedelta(days=days))  # type: ignore[attr-defined]
        assert await sender.drain() == 1
        said = await teacher.expect(f"第 {check}/2 次")
        assert said.buttons == ["✅ 仍在正常上学", "⚠️ 又缺勤了", SNOOZE]
        assert reply in await tap_for_answer(teacher, "✅ 仍在正常上学")
        again = await tap_for_answer(teacher, "✅ 仍在正常上学", again=True)  # a second tap changes nothing
        assert "已经记录过" in again or "不在保学跟踪" in again
    async with services.uow() as uow:
        proposed = await uow.cases.get(case.id)
        assert proposed is not None and proposed.status == "retention"  # a teacher's tap never closes a case
        assert proposed.next_step == "approve_closing"
        checks = [e.data for e in await uow.cases.events(case.id) if e.kind == "retention_check"]
    assert [(c["check"], c["ok"]) for c in checks] == [(1, True), (2, True)]
    # The principal approves the closing from the next morning's digest, with one tap.
    principal = await person("principal")
    services.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    services.clock.set(services.clock.now().astimezone(TZ).replace(hour=8, minute=0))  # type: ignore[attr-defined]
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await sender.drain() == 1
    digest = await principal.expect("已提请销号")
    assert digest.buttons == ["✅ 批准销号 1"]
    assert "已批准销号" in await tap_for_answer(principal, "✅ 批准销号 1")
    again = await tap_for_answer(principal, "✅ 批准销号 1", again=True)  # a double tap changes nothing
    assert "没有待审批" in again or "不能" in again
    async with services.uow() as uow:
        closed = await uow.cases.get(case.id)
        assert closed is not None and closed.status == "closed"
        kinds = [e.kind for e in await uow.cases.events(case.id)]
    assert kinds[-1] == "closing_approved" and "closing_proposed" in kinds
    assert kinds.count("closing_approved") == 1


async def test_a_forged_snooze_for_someone_elses_reminder_is_refused_and_audited(
    recipient: RecipientFactory,
    person: PersonFactory,
    world: World,
    services: Services,
    sender: ReminderSender,
) -> None:
    await recipient("teacher_a")
    other = await person("teacher_b")
    case = await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    [row] = await reminder_rows(services, case_id=case.id, kind="first_visit")
    assert "不是发给您的" in await forge_tap(other, f"rm:snooze:{row.id}")
    async with services.uow() as uow:
        denied = await uow.audit.entries("denied")
        assert [(a.entity, a.entity_id) for a in denied] == [("reminder", str(row.id))]
    assert [r.snoozes for r in await reminder_rows(services, case_id=case.id, kind="first_visit")] == [0]


async def test_a_person_bound_last_on_a_channel_not_running_is_reached_on_the_other(
    channel: str,
    recipient: RecipientFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
    wecom_client: WeComClient,
) -> None:
    """A county that stopped running the other channel: a teacher bound on this channel and, later, on
    the other gets the reminder here; one bound on the other only is unreachable for that reason, and
    the principal told."""
    other = WECOM if channel == TELEGRAM else TELEGRAM
    both, other_only = world.staff["teacher_a"], world.staff["teacher_b"]
    teacher = await recipient("teacher_a")
    services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    for staff, account in ((both, "100001"), (other_only, "100002")):
        await bind_account(services, staff.id, other, account)
    first = await report(services.uow, world, services.clock, services.policy)
    second = await report(
        services.uow, world, services.clock, services.policy, who="teacher_b", in_class=world.class_b
    )
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    only_this = (
        make_sender(services, sender_bot)
        if channel == TELEGRAM
        else make_sender(services, None, wecom=wecom_client)
    )
    assert await only_this.drain() == 1  # only this channel runs here
    assert any(first.number in m.text for m in teacher.messages())
    [row] = await reminder_rows(services, case_id=second.id, kind="first_visit", recipient_id=other_only.id)
    assert (row.state, row.last_error) == ("unreachable", "channel_not_configured")
    told = await reminder_rows(services, case_id=second.id, kind="first_visit")
    assert any((r.payload or {}).get("instead_of") == other_only.id for r in told)  # the principal, instead
