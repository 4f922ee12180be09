"""A simulated WeCom member as a test drives them: send, wait for what the app answered, tap a button."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sandbox.wecom.members import Delivery, Member
from sandbox.wecom.state import Sent
from tests.waiting import until


def labels(sent: Sent) -> list[str]:
    """A template card's button labels ([] for other messages)."""
    card = sent.body.get("template_card", {}) if sent.msgtype == "template_card" else {}
    return [str(b.get("text", "")) for b in card.get("button_list", [])]


def unnumbered(label: str) -> str:
    """A button's label without the number the cards put before a long list's choices ("7. 暂不清楚")."""
    return re.sub(r"^\d+\. ", "", label)


def words(sent: Sent) -> str:
    """What a message reads: a text's content; a card's title, its description and its sub-title text
    (where the app puts a short body, bot.wecom.messenger)."""
    if sent.msgtype == "template_card":
        card = sent.body["template_card"]
        main = card.get("main_title", {})
        parts = (main.get("title", ""), main.get("desc", ""), card.get("sub_title_text", ""))
        return "\n".join(str(p) for p in parts if p)
    return sent.text


class Chat:
    """The member's side; `mark` is where the replies to the last action begin."""

    def __init__(
        self,
        member: Member,
        advance: Callable[[], None],
        settled: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`settled`, if given, returns once the product has answered every callback it took: a prompt
        can come as several messages (a text, then cards), and a person reads them all before acting."""
        self.member, self.advance, self.mark, self.settled = member, advance, 0, settled
        self.deliveries: list[Delivery] = []

    @property
    def since(self) -> list[Sent]:
        return self.member.received[self.mark :]

    def text(self) -> str:
        """Everything the app wrote since the last action, cards' titles and buttons included."""
        return "\n".join(words(s) + " " + " ".join(labels(s)) for s in self.since)

    async def _act(self, delivery: Delivery) -> Delivery:
        assert delivery.delivered, delivery.answers
        self.deliveries.append(delivery)
        return delivery

    async def _begin(self) -> None:
        if self.settled is not None:
            await self.settled()
        self.advance()  # one second apart: WeCom's CreateTime orders a member's messages
        self.mark = len(self.member.received)

    async def send(self, content: str) -> Delivery:
        await self._begin()
        return await self._act(await self.member.send_text(content))

    async def send_image(self, data: bytes, content_type: str = "image/jpeg") -> Delivery:
        await self._begin()
        return await self._act(await self.member.send_image(data, content_type))

    async def send_location(self, lat: float, lon: float, label: str = "") -> Delivery:
        await self._begin()
        return await self._act(await self.member.send_location(lat, lon, label))

    async def send_voice(self) -> Delivery:
        await self._begin()
        return await self._act(await self.member.send_voice())

    def _card_with(self, label: str) -> Sent | None:
        return next((s for s in reversed(self.since) if any(_begins(b, label) for b in labels(s))), None)

    async def tap(self, label: str, timeout: float = 30.0) -> Delivery:
        """Taps the button with this label (or one starting with it, its number aside) on the newest card
        the app sent since the last action, once it has come."""
        if self.settled is not None:  # the whole answer, so a late card of the same label is not taken
            await self.settled()
        await until(lambda: self._card_with(label) is not None, f"a button {label!r}", timeout)
        card = self._card_with(label)
        assert card is not None
        buttons = card.body["template_card"]["button_list"]
        key = next(str(b["key"]) for b in buttons if _begins(str(b["text"]), label))
        await self._begin()
        return await self._act(await self.member.tap(card, key))

    async def tap_on(self, card: Sent, label: str) -> Delivery:
        """Taps a button of this card, e.g. an older one: WeCom keeps an untapped card's buttons live."""
        buttons = card.body["template_card"]["button_list"]
        key = next(str(b["key"]) for b in buttons if str(b["text"]).startswith(label))
        await self._begin()
        return await self._act(await self.member.tap(card, key))

    async def wait_for(self, wanted: str, timeout: float = 30.0) -> str:
        """Waits until the app's answers to the last action contain `wanted`; returns them."""
        await until(lambda: wanted in self.text(), f"{wanted!r} in the answers", timeout)
        return self.text()


def _begins(button: str, label: str) -> bool:
    return button.startswith(label) or unnumbered(button).startswith(label)
