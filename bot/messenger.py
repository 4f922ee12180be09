"""The Messenger ports (domain.messages) for Telegram, and the router that picks a person's channel."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.limits import SendLimiter, retry_after
from bot.message_text import body_of, text_of
from bot.render import callback_data
from domain.messages import Address, ButtonMessenger, Message, RateLimited, SendFailed, Unreachable
from ops.metrics import RATE_LIMITED

# A 400 that means the chat is gone, not that the message was wrong.
UNREACHABLE_400 = ("chat not found", "user not found", "chat_id is empty", "peer_id_invalid")


def deep_link(bot_username: str, code: str) -> str:
    """The invite link that opens the bot with the code as its start payload."""
    return f"https://t.me/{bot_username}?start={code}"


class ChannelMessenger(ButtonMessenger, Protocol):
    """A channel's messenger as the reminder sender uses it: with the channel's own pacing."""

    async def pace(self, to: Address) -> None:
        """Returns when one more paced message to `to` keeps within the channel's limits."""
        ...

    def hold(self, to: Address, seconds: float) -> None:
        """Nothing more to `to` for `seconds` (the channel said to wait)."""
        ...


def render(message: Message, language: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """Catalog text in the recipient's language, and the inline keyboard."""
    body = body_of(message, language)
    if not message.buttons:
        return body, None
    rows = [
        [
            InlineKeyboardButton(text_of(label, language), callback_data=callback_data(action))
            for label, action in row
        ]
        for row in message.buttons
    ]
    return body, InlineKeyboardMarkup(rows)


class TelegramMessenger:
    """Sends through python-telegram-bot's Bot; a conversation is a chat id. `limiter` paces reminders
    (the bot-wide budget it shares with the bot's replies, and one message a second per chat)."""

    def __init__(self, bot: Bot, limiter: SendLimiter | None = None) -> None:
        self.bot = bot
        self.limiter = limiter or SendLimiter()

    async def send_text(self, to: Address, text: str) -> str:
        with _unreachable():
            sent = await self.bot.send_message(chat_id=int(to.conversation), text=text)
        return str(sent.message_id)

    async def send_file(self, to: Address, data: bytes, *, filename: str, caption: str) -> str:
        with _unreachable():
            sent = await self.bot.send_document(
                chat_id=int(to.conversation), document=data, filename=filename, caption=caption
            )
        return str(sent.message_id)

    async def send(self, to: Address, message: Message, language: str) -> str:
        """The message with an inline keyboard; Telegram's errors as the neutral ones."""
        text, markup = render(message, language)
        try:
            with _unreachable(named=True):
                sent = await self.bot.send_message(int(to.conversation), text, reply_markup=markup)
        except RetryAfter as exc:
            RATE_LIMITED.labels("reminders").inc()
            raise RateLimited(_named(exc), retry_after(exc)) from exc
        except BadRequest as exc:  # the message itself was refused: the same again would be too
            raise SendFailed(_named(exc), transient=False) from exc
        except NetworkError as exc:  # a 5xx, a timeout, a lost connection
            raise SendFailed(_named(exc), transient=True) from exc
        except TelegramError as exc:
            raise SendFailed(_named(exc), transient=False) from exc
        return str(sent.message_id)

    async def pace(self, to: Address) -> None:
        await self.limiter.wait(int(to.conversation))

    def hold(self, to: Address, seconds: float) -> None:
        self.limiter.penalise(int(to.conversation), seconds)


def _named(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def _unreachable(*, named: bool = False) -> Iterator[None]:
    """Maps Telegram's "blocked" (403) and "chat gone" (some 400s) to Unreachable."""
    try:
        yield
    except Forbidden as exc:
        raise Unreachable(_named(exc) if named else str(exc), blocked=True) from exc
    except BadRequest as exc:
        if any(s in str(exc).lower() for s in UNREACHABLE_400):
            raise Unreachable(_named(exc) if named else str(exc)) from exc
        raise


class Messengers:
    """One Messenger per configured channel; sends on the channel of the address."""

    def __init__(self, by_channel: Mapping[str, ChannelMessenger]) -> None:
        self.by_channel = dict(by_channel)

    def of(self, to: Address) -> ChannelMessenger:
        messenger = self.by_channel.get(to.channel)
        if messenger is None:  # bound on a channel this deployment no longer runs
            raise Unreachable(f"channel {to.channel} is not configured")
        return messenger

    async def send_text(self, to: Address, text: str) -> str:
        return await self.of(to).send_text(to, text)

    async def send_file(self, to: Address, data: bytes, *, filename: str, caption: str) -> str:
        return await self.of(to).send_file(to, data, filename=filename, caption=caption)

    async def send(self, to: Address, message: Message, language: str) -> str:
        return await self.of(to).send(to, message, language)
