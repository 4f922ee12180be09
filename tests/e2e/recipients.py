"""What a person received on their channel, as the reminder tests read it, on Telegram and on WeCom alike.

A reminder is something the app said to a person without being asked: the tests that tap it use
tests/e2e/people.py's Person; the ones that only count and read what arrived use a `Recipient`, bound
directly (no conversation adapter running) on the test's channel. Either way `messages()` lists what the
person received, one `Received` per message as they read it: on WeCom a long text followed by its
button card(s) is one message, as it is one message with a keyboard on Telegram.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.container import Services, build_services
from app.settings import load_settings
from bot.wecom.api import App, RetryPolicy, WeComClient
from bot.wecom.tokens import DatabaseTokenStore
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from sandbox.wecom.state import Sent
from storage.models import ChannelAccount
from tests.e2e.conftest import WECOM_AGENT_ID, wecom_settings
from tests.e2e.people import TELEGRAM, WECOM, Person, TelegramPerson, WeComPerson
from tests.factories import World
from tests.unit.test_wecom_crypto import CORP_ID as WECOM_CORP_ID
from tests.wecom_chat import labels, words

# Quick retries and a short timeout, so an injected fault costs a test a second, not a minute.
QUICK = RetryPolicy(attempts=3, first_wait=0.01, max_wait=0.05, timeout=1.0)


@dataclass(frozen=True)
class Received:
    """One message: its text (a card's title and sub-title on WeCom), button labels, what each button
    sends back (Telegram's callback data, a WeCom card's button keys), the channel's message id (the
    first, for a text and its cards), and the name of an attached file."""

    text: str
    buttons: list[str]
    actions: list[str]
    ref: str
    file_name: str | None = None


class Recipient(ABC):
    """One staff member's account on one channel."""

    channel: str
    account: str

    @abstractmethod
    def messages(self) -> list[Received]:
        """Everything the app sent this account, oldest first."""

    @abstractmethod
    def cut_off(self) -> None:
        """The app may no longer write to them: Telegram, they blocked the bot (403); WeCom, they left
        the corp (message/send answers 81013)."""

    def texts(self) -> list[str]:
        return [m.text for m in self.messages()]


class TelegramRecipient(Recipient):
    channel = TELEGRAM

    def __init__(self, emulator: Emulator, bot: BotState, user_id: int) -> None:
        self.emulator, self.bot, self.user_id = emulator, bot, user_id
        self.account = str(user_id)

    def _chat(self) -> Any:
        return self.emulator.registry.chat(self.emulator.bot(self.bot.token), self.user_id)

    def messages(self) -> list[Received]:
        chat = self._chat()
        return [_from_telegram(m.data) for _, m in sorted(chat.messages.items()) if m.from_bot]

    def cut_off(self) -> None:
        self.emulator.people.set_blocked(self.bot.token, self.user_id, True)


def _from_telegram(data: dict[str, Any]) -> Received:
    markup = data.get("reply_markup") or {}
    keys = [b for row in markup.get("inline_keyboard") or [] for b in row]
    return Received(
        text=str(data.get("text") or data.get("caption") or ""),
        buttons=[str(b["text"]) for b in keys],
        actions=[str(b.get("callback_data", "")) for b in keys],
        ref=str(data["message_id"]),
        file_name=(data.get("document") or {}).get("file_name"),
    )


class WeComRecipient(Recipient):
    channel = WECOM

    def __init__(self, emu: WeComEmulator, userid: str) -> None:
        self.emu, self.account = emu, userid

    def messages(self) -> list[Received]:
        groups: list[list[Sent]] = []
        for sent in self.emu.state.inbox[self.account]:
            if groups and _continues(groups[-1], sent):
                groups[-1].append(sent)
            else:
                groups.append([sent])
        return [self._read(group) for group in groups]

    def _read(self, group: list[Sent]) -> Received:
        head = group[0]
        text = words(head)
        cards = [s.body["template_card"] for s in group if s.msgtype == "template_card"]
        file_name = None
        if head.msgtype == "file":
            file_name = self.emu.state.media[head.body["file"]["media_id"]].filename
        return Received(
            text=text,
            buttons=[b for s in group for b in labels(s)],
            actions=[str(b["key"]) for card in cards for b in card.get("button_list", [])],
            ref=head.msgid,
            file_name=file_name,
        )

    def cut_off(self) -> None:
        self.emu.state.members.discard(self.account)


def _continues(group: list[Sent], sent: Sent) -> bool:
    """A card without a sub-title, titled with the first line of the text that opened the group: the
    buttons of a body too long for a card (bot.wecom.messenger). A card of its own never continues one."""
    head = group[0]
    if head.msgtype != "text" or sent.msgtype != "template_card":
        return False
    card = sent.body["template_card"]
    title = str(card.get("main_title", {}).get("title", ""))
    return not card.get("sub_title_text") and title == head.text.partition("\n")[0]


RecipientFactory = Callable[[str], Awaitable[Recipient]]
InboxOf = Callable[[Person], Recipient]


@pytest.fixture
async def services(database_url: str, clock: FixedClock, wecom_emu: WeComEmulator) -> AsyncIterator[Services]:
    """A county running both channels: Telegram, and WeCom's API at the emulator (so a scheduler built
    from these services writes to each person on their own channel, as `notoneless run` does)."""
    settings = load_settings(
        database_url=database_url, telegram_bot_username="nol_e2e_bot", **wecom_settings(wecom_emu)
    )
    svc = build_services(settings, clock)
    yield svc
    await svc.close()


@pytest.fixture
async def wecom_client(services: Services, wecom_emu: WeComEmulator) -> AsyncIterator[WeComClient]:
    """The sender's WeCom client (as services.wecom_client() builds it, with quick retries)."""
    app = App(WECOM_CORP_ID, WECOM_AGENT_ID, wecom_emu.state.secret)
    client = WeComClient(
        app,
        base_url=wecom_emu.api_base_url,
        tokens=DatabaseTokenStore(services.uow),
        clock=services.clock,
        retry=QUICK,
    )
    yield client
    await client.aclose()


async def bind_account(services: Services, staff_id: int, channel: str, account: str) -> None:
    """The channel_accounts row a binding writes (fast setup, without the conversation)."""
    async with services.uow() as uow:
        uow.session.add(
            ChannelAccount(
                staff_id=staff_id, channel=channel, account=account, conversation=account,
                bound_at=services.clock.now(),
            )
        )  # fmt: skip
        await uow.commit()


@pytest.fixture
def recipient(
    channel: str, request: pytest.FixtureRequest, services: Services, world: World
) -> RecipientFactory:
    """`await recipient("teacher_a")`: that staff member bound directly on the test's channel."""

    async def on_telegram(who: str) -> Recipient:
        emulator: Emulator = request.getfixturevalue("emulator")
        bot: BotState = request.getfixturevalue("tg_bot")
        user = emulator.create_user(first_name=who, language_code="zh-hans")
        emulator.registry.chat(emulator.bot(bot.token), user["id"]).started = True
        await bind_account(services, world.staff[who].id, TELEGRAM, str(user["id"]))
        return TelegramRecipient(emulator, bot, int(user["id"]))

    async def on_wecom(who: str) -> Recipient:
        emu: WeComEmulator = request.getfixturevalue("wecom_emu")
        emu.add_member(f"m_{who}")
        await bind_account(services, world.staff[who].id, WECOM, f"m_{who}")
        return WeComRecipient(emu, f"m_{who}")

    return on_telegram if channel == TELEGRAM else on_wecom


@pytest.fixture
def inbox(request: pytest.FixtureRequest) -> InboxOf:
    """What a Person (of the `person` fixture) received, read as a Recipient."""

    def of(person: Person) -> Recipient:
        if isinstance(person, TelegramPerson):
            emulator: Emulator = request.getfixturevalue("emulator")
            return TelegramRecipient(emulator, request.getfixturevalue("tg_bot"), person.phone.user_id)
        assert isinstance(person, WeComPerson)
        return WeComRecipient(person.chat.member.emu, person.account)

    return of


async def forge_tap(person: Person, key: str, timeout: float = 15.0) -> str:
    """A tap carrying a button key that was never on anything sent to this person, and the answer.
    Telegram: a tampered client's callback query. WeCom: a card event with that EventKey, signed as
    WeCom signs it (a key WeCom would only carry from the member's own card)."""
    if isinstance(person, TelegramPerson):
        phone = person.phone
        await phone.refresh()
        before = len(phone.callback_answers)
        await phone.press_callback(phone.messages[-1]["message_id"], key)
        async with asyncio.timeout(timeout):
            while len(phone.callback_answers) <= before:
                await asyncio.sleep(0.05)
                await phone.refresh()
        return str(phone.callback_answers[before].get("text", ""))
    assert isinstance(person, WeComPerson)
    await person.settled()
    chat, emu = person.chat, person.chat.member.emu
    chat.advance()
    chat.mark = len(chat.member.received)
    event: dict[str, str | float] = {
        "ToUserName": emu.state.corp_id, "FromUserName": person.account, "CreateTime": int(emu.now()),
        "MsgType": "event", "AgentID": emu.state.agent_id, "Event": "template_card_event",
        "EventKey": key, "TaskId": "nol-forged", "CardType": "button_interaction", "ResponseCode": "",
    }  # fmt: skip
    delivery = await emu.deliver(event)
    assert delivery.delivered, delivery.answers
    return (await person.expect(lambda s: bool(s.text), timeout)).text


async def tap_on(person: Person, ref: str, label: str) -> None:
    """Taps the button with this label on an earlier message (`ref`, from Received.ref), not the newest."""
    if isinstance(person, TelegramPerson):
        await person._did(person.phone.tap(label, message_id=int(ref)))  # what the app says next counts
        return
    assert isinstance(person, WeComPerson)
    await person.settled()
    card = next(s for s in person.chat.member.received if s.msgid == ref)
    assert (await person.chat.tap_on(card, label)).delivered
