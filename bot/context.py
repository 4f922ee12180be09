"""Who is talking to the bot, in which language; looked up once per update."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import ContextTypes

from app.container import Services
from i18n import normalise_language, t
from storage.models import Staff


@dataclass(frozen=True)
class Caller:
    telegram_user_id: int
    chat_id: int
    language: str
    staff: Staff | None

    def text(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.bot_data["services"]  # type: ignore[no-any-return]


async def identify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Caller | None:
    """The bound staff member (if any) and their language: chosen, else Telegram's, else the default."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    services = services_of(context)
    default = services.settings.default_language
    async with services.uow() as uow:
        binding = await uow.directory.binding_for_telegram(user.id)
        staff = await uow.directory.staff(binding.staff_id) if binding else None
        if staff is not None and not staff.active:
            staff = None
        if binding is not None and binding.unreachable_since is not None:
            # They blocked the bot once and now write to it again: reminders can reach them again.
            binding.unreachable_since = None
            await uow.commit()
    chosen = binding.language if binding else None
    language = chosen or normalise_language(user.language_code, default)
    return Caller(user.id, chat.id, language, staff)
