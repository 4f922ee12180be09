"""Who is talking to the bot, in which language; looked up once per update."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import ContextTypes

from bot.conversations.speakers import identify_account
from bot.ports import BotServices
from i18n import t
from storage.models import Staff
from storage.uow import UnitOfWork

CHANNEL = "telegram"  # this adapter's name in channel_accounts, the inbox and the update log


@dataclass(frozen=True)
class Caller:
    telegram_user_id: int
    chat_id: int
    language: str
    staff: Staff | None
    account_id: int | None = None  # the person's channel account: the key of their form drafts

    def text(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)


def services_of(context: ContextTypes.DEFAULT_TYPE) -> BotServices:
    return context.bot_data["services"]  # type: ignore[no-any-return]


def bot_id_of(token: str) -> int:
    """The bot's id, as getMe gives it: a Telegram token is "<bot id>:<secret>". Update ids are numbered
    per bot, so the update log and the inbox key their rows by it."""
    head, colon, _ = token.partition(":")
    if not (colon and head.isdigit()):
        raise ValueError("a Telegram bot token starts with the bot's numeric id and a colon")
    return int(head)


def bot_id(context: ContextTypes.DEFAULT_TYPE) -> int:
    """The id of the bot this update came to."""
    return bot_id_of(context.bot.token)


async def identify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Caller | None:
    """The bound staff member (if any) and their language (domain.people.language: chosen, else what this
    phone reports, else what it reported before, else the default)."""
    services = services_of(context)
    async with services.uow() as uow:
        caller = await identify_in(uow, update, services.settings.default_language)
        await uow.commit()
    return caller


async def identify_in(uow: UnitOfWork, update: Update, default_language: str) -> Caller | None:
    """`identify` inside the caller's transaction (the forms look the person up in the step's own)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    speaker = await identify_account(
        uow, CHANNEL, str(user.id), reported=user.language_code, default=default_language
    )
    return Caller(user.id, chat.id, speaker.language, speaker.staff, speaker.account_id)
