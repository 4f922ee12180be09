"""Reminders, digests and reports on each person's channel: WeCom through its emulator and Telegram
through the Bot API emulator, both over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from app.container import Services, build_services
from app.scheduler import ReminderScheduler
from app.settings import load_settings
from bot.actions import apply_reminder_action, reminder_action
from bot.sender import ReminderSender
from domain.audit import Actor
from domain.clock import FixedClock
from domain.reminders.digest import build_digests
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from sandbox.wecom.state import Sent
from storage.models import ChannelAccount
from tests.e2e.test_reminders_delivery import TZ, bind_directly, received, reminder_rows
from tests.factories import World
from tests.integration.test_reminders import report


@pytest.fixture
async def wecom() -> AsyncIterator[WeComEmulator]:
    async with WeComEmulator() as emu:
        yield emu


@pytest.fixture
async def services(database_url: str, clock: FixedClock, wecom: WeComEmulator) -> AsyncIterator[Services]:
    """Services of a county running both channels, WeCom's API at the emulator."""
    settings = load_settings(
        database_url=database_url,
        telegram_bot_username="nol_e2e_bot",
        wecom_corp_id=wecom.state.corp_id,
        wecom_agent_id=wecom.state.agent_id,
        wecom_secret=wecom.state.secret,
        wecom_token=wecom.token,
        wecom_encoding_aes_key=wecom.encoding_aes_key,
        wecom_api_base_url=wecom.api_base_url,
    )
    svc = build_services(settings, clock)
    yield svc
    await svc.close()


@pytest.fixture
async def sender_bot(emulator: Emulator, tg_bot: BotState) -> AsyncIterator[Bot]:
    request = HTTPXRequest(connection_pool_size=8, read_timeout=5.0)
    bot = Bot(tg_bot.token, base_url=emulator.base_url, base_file_url=emulator.file_base_url, request=request)
    await bot.initialize()
    yield bot
    await bot.shutdown()


@pytest.fixture
async def scheduler(services: Services, sender_bot: Bot) -> AsyncIterator[ReminderScheduler]:
    """The scheduler as `notoneless run` builds it: it adds WeCom's messenger because WeCom is configured."""
    built = ReminderScheduler(services, sender_bot)
    yield built
    await built.stop()


@pytest.fixture
def sender(scheduler: ReminderScheduler) -> ReminderSender:
    scheduler.sender.retry_pause = 0.05
    return scheduler.sender


async def bind_wecom(services: Services, wecom: WeComEmulator, staff_id: int, userid: str) -> None:
    """A staff member bound to a WeCom member of the app (as a roster's 企业微信账号 column does)."""
    wecom.add_member(userid)
    async with services.uow() as uow:
        uow.session.add(
            ChannelAccount(
                staff_id=staff_id,
                channel="wecom",
                account=userid,
                conversation=userid,
                bound_at=services.clock.now(),
            )
        )
        await uow.commit()


def keys(card: Sent) -> list[str]:
    return [b["key"] for b in card.body["template_card"]["button_list"]]


async def test_a_teacher_bound_only_on_wecom_gets_the_reminder_there_as_a_card(
    world: World, services: Services, wecom: WeComEmulator, emulator: Emulator, sender: ReminderSender
) -> None:
    await bind_wecom(services, wecom, world.staff["teacher_a"].id, "wang")
    case = await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    [card] = wecom.member("wang").received
    assert card.msgtype == "template_card" and card.response_code
    [row] = await reminder_rows(services, case_id=case.id, kind="first_visit")
    assert row.state == "sent" and row.sent_ref == card.msgid
    # the same strings as Telegram's callback data: both channels decode a tap alike
    assert keys(card) == [f"go:visit:{case.id}", f"rm:snooze:{row.id}"]
    assert case.number in str(card.body)
    assert emulator.stats()["calls"].get("sendMessage", 0) == 0  # nothing on Telegram


@pytest.mark.parametrize("last", ["wecom", "telegram"])
async def test_a_person_bound_on_both_channels_gets_each_reminder_once_on_the_last_bound(
    last: str,
    world: World,
    services: Services,
    wecom: WeComEmulator,
    emulator: Emulator,
    tg_bot: BotState,
    sender: ReminderSender,
) -> None:
    teacher = world.staff["teacher_a"].id
    if last == "wecom":
        chat = await bind_directly(services, emulator, tg_bot, teacher)
        services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        await bind_wecom(services, wecom, teacher, "wang")
    else:
        await bind_wecom(services, wecom, teacher, "wang")
        services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        chat = await bind_directly(services, emulator, tg_bot, teacher)
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    assert await sender.drain() == 0
    on_wecom, on_telegram = len(wecom.member("wang").received), len(received(emulator, tg_bot, chat))
    assert (on_wecom, on_telegram) == ((1, 0) if last == "wecom" else (0, 1))


async def test_a_wecom_member_who_left_is_marked_unreachable_and_the_principal_told(
    world: World,
    services: Services,
    wecom: WeComEmulator,
    emulator: Emulator,
    tg_bot: BotState,
    sender: ReminderSender,
) -> None:
    await bind_wecom(services, wecom, world.staff["teacher_a"].id, "wang")
    principal = await bind_directly(services, emulator, tg_bot, world.staff["principal"].id)
    wecom.state.members.discard("wang")  # left the corp: message/send answers 81013 with invaliduser
    case = await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]  # Friday 09:00
    assert await sender.drain() == 0
    [row] = await reminder_rows(
        services, case_id=case.id, kind="first_visit", recipient_id=world.staff["teacher_a"].id
    )
    assert row.state == "unreachable" and "UnreachableMember" in (row.last_error or "")
    async with services.uow() as uow:
        account = await uow.directory.account_for_staff(world.staff["teacher_a"].id)
        assert account is not None and account.channel == "wecom"
        assert account.unreachable_since == services.clock.now()
    instead = await reminder_rows(
        services, case_id=case.id, kind="first_visit", recipient_id=world.staff["principal"].id
    )
    assert [(r.state, r.channel) for r in instead] == [("pending", "digest")]
    services.clock.set(datetime(2026, 10, 17, 8, 0, tzinfo=TZ))  # type: ignore[attr-defined]  # next digest
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await sender.drain() == 1
    [digest] = received(emulator, tg_bot, principal)
    assert "每日督办" in digest["text"] and case.number in digest["text"]


async def test_the_monthly_report_reaches_a_principal_on_wecom_as_a_file(
    world: World, services: Services, wecom: WeComEmulator, scheduler: ReminderScheduler, clock: FixedClock
) -> None:
    await bind_wecom(services, wecom, world.staff["principal"].id, "principal-li")
    clock.set(datetime(2026, 11, 1, 8, 0, tzinfo=TZ))  # the configured day (1st), the digest time
    assert await scheduler.leadership.campaign()
    await scheduler.deliver_monthly()
    files = [m for m in wecom.member("principal-li").received if m.msgtype == "file"]
    assert len(files) == 1
    media = wecom.state.media[files[0].body["file"]["media_id"]]
    assert media.filename.endswith("_202610.xlsx") and media.data.startswith(b"PK")
    await scheduler.deliver_monthly()  # a second run the same day sends nothing more
    assert len([m for m in wecom.member("principal-li").received if m.msgtype == "file"]) == 1


async def test_a_snooze_tapped_on_wecom_postpones_the_reminder_through_the_neutral_action(
    world: World, services: Services, wecom: WeComEmulator, sender: ReminderSender
) -> None:
    await bind_wecom(services, wecom, world.staff["teacher_a"].id, "wang")
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    [card] = wecom.member("wang").received
    action = reminder_action(keys(card)[-1])  # the tap's EventKey, as WeCom's adapter receives it
    assert action is not None and action.name == "snooze"
    async with services.uow() as uow:
        staff = await uow.directory.staff(world.staff["teacher_a"].id)
        assert staff is not None
        answer = await apply_reminder_action(
            uow,
            staff,
            Actor(staff.id, "wecom:wang", "wecom"),
            action,
            language="zh_CN",
            now=services.clock.now(),
            policy=services.policy,
            tz=TZ,
        )
        assert answer.keep
        await uow.commit()
    assert "再提醒您" in answer.text
    assert await sender.drain() == 0  # postponed, not resent at once
    services.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    assert len(wecom.member("wang").received) == 2
