"""The one global error handler: log with the update id, apologise in the user's language."""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa
from telegram import Update
from telegram.ext import ContextTypes

from bot.context import CHANNEL, services_of
from domain.people.language import language_of
from i18n import t
from ops.metrics import update_failed

log = logging.getLogger(__name__)


def database_unavailable(error: object) -> bool:
    """A lost or refused database connection: nothing was saved, and sending the step again will work."""
    if isinstance(error, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
        return True
    return isinstance(error, sa.DBAPIError) and error.connection_invalidated


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    update_id = update.update_id if isinstance(update, Update) else None
    update_failed.set(True)
    # No message text or user data in the log: it may hold children's personal information.
    log.error("update %s failed: %r", update_id, context.error, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        language = await _language(update, context)
        key = "form.try_again" if database_unavailable(context.error) else "error.generic"
        await context.bot.send_message(update.effective_chat.id, t(language, key))
    except Exception:  # noqa: BLE001 - the apology itself must never raise
        log.warning("could not tell chat about failed update %s", update_id)


async def _language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The person's language (domain.people.language); without their stored choice when the database is what
    failed, or when it cannot be read now."""
    services = services_of(context)
    user = update.effective_user
    reported = user.language_code if user else None
    staff = None
    if user is not None and not database_unavailable(context.error):
        try:
            async with services.uow() as uow:
                binding = await uow.directory.account(CHANNEL, str(user.id))
                staff = await uow.directory.staff(binding.staff_id) if binding else None
        except Exception:  # noqa: BLE001 - the apology goes out in the client's language then
            staff = None
    return language_of(staff, reported=reported, default=services.settings.default_language)
