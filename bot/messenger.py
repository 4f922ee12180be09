"""The Messenger port (domain.messages) for Telegram, and the router that picks a person's channel."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from telegram import Bot
from telegram.error import BadRequest, Forbidden

from domain.messages import Address, Messenger, Unreachable

# A 400 that means the chat is gone, not that the message was wrong.
UNREACHABLE_400 = ("chat not found", "user not found", "chat_id is empty", "peer_id_invalid")


def deep_link(bot_username: str, code: str) -> str:
    """The invite link that opens the bot with the code as its start payload."""
    return f"https://t.me/{bot_username}?start={code}"


class TelegramMessenger:
    """Sends through python-telegram-bot's Bot; a conversation is a chat id."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

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


@contextmanager
def _unreachable() -> Iterator[None]:
    """Maps Telegram's "blocked" (403) and "chat gone" (some 400s) to Unreachable."""
    try:
        yield
    except Forbidden as exc:
        raise Unreachable(str(exc), blocked=True) from exc
    except BadRequest as exc:
        if any(s in str(exc).lower() for s in UNREACHABLE_400):
            raise Unreachable(str(exc)) from exc
        raise


class Messengers:
    """One Messenger per configured channel; sends on the channel of the address."""

    def __init__(self, by_channel: Mapping[str, Messenger]) -> None:
        self.by_channel = dict(by_channel)

    def of(self, to: Address) -> Messenger:
        messenger = self.by_channel.get(to.channel)
        if messenger is None:  # bound on a channel this deployment no longer runs
            raise Unreachable(f"channel {to.channel} is not configured")
        return messenger

    async def send_text(self, to: Address, text: str) -> str:
        return await self.of(to).send_text(to, text)

    async def send_file(self, to: Address, data: bytes, *, filename: str, caption: str) -> str:
        return await self.of(to).send_file(to, data, filename=filename, caption=caption)
