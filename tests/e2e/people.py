"""A person as an end-to-end test drives them, on either channel: send, tap, wait for what the app said.

The same test runs on Telegram (a phone of the Bot API emulator) and on WeCom (a member of the WeCom
emulator): both implement `Person`. What the app said since the person's last action is one `Said`: the
texts (and cards' titles) and the labels of the buttons, however the channel split them into messages.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.conversations.keys import FORM_TAP
from sandbox.phone import Phone
from sandbox.wecom.state import Sent
from tests.wecom_chat import Chat, unnumbered, words

TELEGRAM, WECOM = "telegram", "wecom"


@dataclass(frozen=True)
class Said:
    """Everything the app wrote since the last action: `text` joins the messages, `buttons` their labels."""

    text: str
    buttons: list[str]

    def __contains__(self, wanted: str) -> bool:
        return wanted in self.text or any(wanted in b for b in self.buttons)

    def button(self, containing: str) -> str:
        """The first button whose label contains this text (e.g. a student number's last digits)."""
        found = next((b for b in self.buttons if containing in b), None)
        assert found is not None, f"no button with {containing!r} in {self.buttons}"
        return found


Wanted = str | Callable[[Said], bool]


class Person(ABC):
    """One person on one channel. `account` is their user id on it, as channel_accounts stores it."""

    channel: str
    account: str

    @abstractmethod
    async def send(self, text: str) -> None: ...

    @abstractmethod
    async def tap(self, label: str) -> None:
        """Tap the button with this label on the newest message or card that shows it."""

    @abstractmethod
    async def send_photo(self, data: bytes) -> None: ...

    @abstractmethod
    async def send_file(self, data: bytes, content_type: str, name: str = "file.bin") -> None:
        """A file that is not a photo (Telegram: a document; WeCom: an image message of other bytes)."""

    @abstractmethod
    async def send_location(self, lat: float, lon: float) -> None: ...

    @abstractmethod
    async def send_voice(self) -> None: ...

    @abstractmethod
    async def send_sticker(self) -> None:
        """Something no form step takes (Telegram: a sticker; WeCom has none: a voice message)."""

    @abstractmethod
    def said(self) -> Said:
        """What the app wrote since the last action, as last seen."""

    @abstractmethod
    async def _changed(self, timeout: float) -> None:
        """Returns once the app may have written more (or after `timeout`)."""

    async def expect(self, wanted: Wanted, timeout: float = 15.0) -> Said:
        """Waits until what the app said since the last action contains `wanted` (or satisfies it)."""
        check = (lambda s: wanted in s) if isinstance(wanted, str) else wanted
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            said = self.said()
            if check(said):
                return said
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.channel}: waited {timeout}s for {wanted!r}; the app said {said}")
            await self._changed(min(remaining, 2.0))

    async def choose(self, containing: str, timeout: float = 15.0) -> None:
        """Waits for a button whose label contains this text, and taps it."""
        said = await self.expect(lambda s: any(containing in b for b in s.buttons), timeout)
        await self.tap(said.button(containing))


class TelegramPerson(Person):
    channel = TELEGRAM

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.account = str(phone.user_id)
        self._mark = self._seen = phone.seen_version
        self._since: dict[int, dict[str, Any]] = {}
        self.sent: dict[str, Any] = {}  # the emulator's answer to the last action (e.g. a photo's sizes)

    async def _did(self, action: Any) -> None:
        self.sent = await action
        self._mark = self._seen = self.phone.seen_version  # Phone._act: the version right after it
        self._since = {}

    async def send(self, text: str) -> None:
        await self._did(self.phone.send(text))

    async def start(self, payload: str | None = None) -> None:
        await self._did(self.phone.start(payload))

    async def tap(self, label: str) -> None:
        await self._did(self.phone.tap(label))

    async def send_photo(self, data: bytes) -> None:
        await self._did(self.phone.send_photo(data))

    async def send_file(self, data: bytes, content_type: str, name: str = "file.bin") -> None:
        await self._did(self.phone.send_document(data, file_name=name, mime_type=content_type))

    async def send_location(self, lat: float, lon: float) -> None:
        await self._did(self.phone.send_location(lat, lon))

    async def send_voice(self) -> None:
        await self._did(self.phone.send_voice())

    async def send_sticker(self) -> None:
        await self._did(self.phone.send_sticker())

    def said(self) -> Said:
        alive = [m for _, m in sorted(self._since.items()) if m["from_bot"] and not m["deleted"]]
        texts = [str(m.get("text") or m.get("caption") or "") for m in alive]
        return Said("\n".join(texts), [b for m in alive for b in _telegram_buttons(m)])

    async def _changed(self, timeout: float) -> None:
        path = f"/_control/bots/{self.phone.bot}/chats/{self.phone.user_id}"
        await self.phone._call("GET", path, params={"after": self._seen, "timeout": timeout})
        chat = await self.phone._call("GET", path, params={"after": self._mark})
        self.phone._absorb(chat)
        self._seen = int(chat["version"])
        self._since = {m["message_id"]: m for m in chat["messages"]}


def _telegram_buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]


class WeComPerson(Person):
    channel = WECOM

    def __init__(self, chat: Chat, settled: Callable[[], Awaitable[None]]) -> None:
        """`settled` returns once the product has answered every callback it took: a prompt may come as
        several messages (a text, then cards), and a person reads them all before acting again."""
        self.chat, self.settled = chat, settled
        self.account = chat.member.userid

    async def send(self, text: str) -> None:
        await self.settled()
        await self.chat.send(text)

    async def tap(self, label: str) -> None:
        await self.settled()
        await self.chat.tap(label)

    async def send_photo(self, data: bytes) -> None:
        await self.settled()
        await self.chat.send_image(data)

    async def send_file(self, data: bytes, content_type: str, name: str = "file.bin") -> None:
        await self.settled()
        await self.chat.send_image(data, content_type)

    async def send_location(self, lat: float, lon: float) -> None:
        await self.settled()
        await self.chat.send_location(lat, lon)

    async def send_voice(self) -> None:
        await self.settled()
        await self.chat.send_voice()

    async def send_sticker(self) -> None:
        await self.send_voice()

    async def expect(self, wanted: Wanted, timeout: float = 15.0) -> Said:
        await self.settled()  # the whole answer, not its first message
        return await super().expect(wanted, timeout)

    def said(self) -> Said:
        since = self.chat.since
        return Said("\n".join(words(s) for s in since), [b for s in since for b in _choices(s)])

    async def _changed(self, timeout: float) -> None:
        await asyncio.sleep(min(timeout, 0.02))


def _choices(sent: Sent) -> list[str]:
    """A card's button labels; a long list's cards number a form step's choices ("3. 外出打工") so they can
    be typed: the choice is the same as Telegram's button (other numbers, e.g. /mycases', are content)."""
    card = sent.body.get("template_card", {}) if sent.msgtype == "template_card" else {}
    return [
        unnumbered(str(b["text"])) if str(b.get("key", "")).startswith(f"{FORM_TAP}:") else str(b["text"])
        for b in card.get("button_list", [])
    ]
