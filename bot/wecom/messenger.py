"""The Messenger port (domain.messages) for WeCom: text, files through media/upload, and a Message's
buttons as template cards (button_interaction) whose button keys are Telegram's callback data, so a tap
on either channel is decoded by the same code (bot.render, bot.actions).

Pacing follows WeCom's limits for an app's messages (PROTOCOL.md, the send page): one member receives at
most 30 of an app's messages a minute (more are dropped), so reminders to one member go 2 s apart; the
app's calls overall stay far below the corp's per-interface budget."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from bot.limits import SendLimiter
from bot.message_text import body_of, text_of
from bot.render import callback_data
from bot.wecom.api import WeComClient
from bot.wecom.cards import MAX_BUTTONS, button_card
from bot.wecom.errors import RateLimited as WeComRateLimited
from bot.wecom.errors import (
    SystemBusy,
    TokenRejected,
    UnreachableMember,
    WeComApiError,
    WeComUnavailable,
)
from domain.messages import Address, Message, RateLimited, SendFailed, Unreachable

MESSAGES_PER_SECOND = 20.0  # the app's own budget for reminders
PER_MEMBER_INTERVAL = 2.0  # 30 messages a minute per member
# WeCom names no wait for 45009/45033: a per-minute quota frees within a minute, a concurrency limit at once.
RATE_LIMIT_WAIT = {45009: 60.0, 45033: 1.0}
CARD_TEXT = 112  # characters of sub_title_text WeCom shows on a card; longer bodies go as text first
FILE_TYPE = "application/octet-stream"


def default_limiter() -> SendLimiter:
    return SendLimiter(MESSAGES_PER_SECOND, 1.0, PER_MEMBER_INTERVAL)


class WeComMessenger:
    """Sends through the WeCom client; a conversation is a member's userid."""

    def __init__(self, client: WeComClient, limiter: SendLimiter | None = None) -> None:
        self.client = client
        self.limiter = limiter or default_limiter()

    async def send_text(self, to: Address, text: str) -> str:
        with _neutral():
            return (await self.client.send_text(to.conversation, text))[0]

    async def send_file(self, to: Address, data: bytes, *, filename: str, caption: str) -> str:
        """The caption as a text message, then the file (a file message has no caption of its own)."""
        with _neutral():
            media_id = await self.client.upload_media("file", filename, data, FILE_TYPE)
            if caption:
                await self.client.send_text(to.conversation, caption)
            return await self.client.send_file(to.conversation, media_id)

    async def send(self, to: Address, message: Message, language: str) -> str:
        """Text only, or a card per six buttons; a short body sits on the (first) card itself."""
        body = body_of(message, language)
        buttons = [
            (callback_data(action), text_of(label, language))
            for row in message.buttons
            for label, action in row
        ]
        if not buttons:
            return await self.send_text(to, body)
        title, _, rest = body.partition("\n")
        first_id = None
        with _neutral():
            if len(rest) > CARD_TEXT or len(buttons) > MAX_BUTTONS:
                first_id = (await self.client.send_text(to.conversation, body))[0]
                rest = ""
            for start in range(0, len(buttons), MAX_BUTTONS):
                card = button_card(f"nol-{uuid.uuid4().hex}", title, buttons[start : start + MAX_BUTTONS])
                if rest:
                    card["sub_title_text"] = rest
                sent = await self.client.send_card(to.conversation, card)
                first_id = first_id or sent.msgid
        assert first_id is not None
        return first_id

    async def pace(self, to: Address) -> None:
        await self.limiter.wait(to.conversation)

    def hold(self, to: Address, seconds: float) -> None:
        self.limiter.penalise(to.conversation, seconds)


@contextmanager
def _neutral() -> Iterator[None]:
    """WeCom's typed errors as the neutral ones (the client has already retried busy, 5xx, timeouts)."""
    try:
        yield
    except UnreachableMember as exc:
        # Left the corp or outside the app's range: the account is gone, so it is marked (blocked=True)
        # and their other channel, if any, is used next time.
        raise Unreachable(f"UnreachableMember: {exc}", blocked=True) from exc
    except WeComRateLimited as exc:
        raise RateLimited(f"RateLimited: {exc}", RATE_LIMIT_WAIT.get(exc.errcode, 60.0)) from exc
    except (SystemBusy, TokenRejected) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}", transient=True) from exc
    except WeComUnavailable as exc:
        raise SendFailed(f"WeComUnavailable: {exc}", transient=True) from exc
    except WeComApiError as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}", transient=False) from exc
