"""Messages out, whatever the channel: catalog text, typed actions for buttons, an address, and the port a
channel's adapter implements to send them (in bot/, one per channel). Nothing here knows a
callback-data format, a chat id type or a channel's API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Msg:
    """A catalog message; parameters may themselves be messages (translated first)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """What a button does, whatever the channel: open a form on a case, postpone a reminder, answer a
    retention check, acknowledge an escalation, approve a closing. Each channel encodes it its own way."""

    name: str  # visit | return | homeschool | snooze | retention_ok | retention_absent | acknowledge
    # | approve_closing | confirm_report (the monthly report reminder's id) | rollcall (opens /rollcall)
    target: int  # a case, reminder or escalation id, as the name implies


@dataclass
class Message:
    lines: list[Msg]
    buttons: list[list[tuple[Msg, Action]]] = field(default_factory=list)


@dataclass(frozen=True)
class Address:
    """Where a person is reached: a channel's name and the conversation on it."""

    channel: str
    conversation: str


class Unreachable(Exception):
    """The channel says this person cannot be messaged (blocked the app, left, unknown): stop trying.
    `blocked`: they did it themselves (they can undo it by writing again)."""

    def __init__(self, reason: str, *, blocked: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.blocked = reason, blocked


class RateLimited(Exception):
    """The channel asks to write to this recipient (or at all) again only after `retry_after` seconds: not
    a failure, the same message is sent again then."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class SendFailed(Exception):
    """The channel did not take the message. `transient`: a 5xx, a timeout, "system busy": worth sending
    again; otherwise the message itself was refused and would be again."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


class Messenger(Protocol):
    """A channel's way of sending. Raises Unreachable for a recipient who cannot be messaged; other errors
    are the channel's own (the caller retries or records them)."""

    async def send_text(self, to: Address, text: str) -> str:
        """Sends plain text; returns the channel's id of the message."""
        ...

    async def send_file(self, to: Address, data: bytes, *, filename: str, caption: str) -> str: ...


class ButtonMessenger(Messenger, Protocol):
    """A channel that also sends a Message with its buttons (reminders, digests): each channel renders the
    actions its own way and turns a tap back into the same Action."""

    async def send(self, to: Address, message: Message, language: str) -> str:
        """Sends the message in `language`; returns the channel's id of it. Raises Unreachable,
        RateLimited or SendFailed, never the channel's own errors."""
        ...
