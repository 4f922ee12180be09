"""Every form input: one transaction per update (deduplicated by update_id), then the replies."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from telegram import Update
from telegram.ext import ContextTypes

from bot.context import Caller, identify_in, services_of
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import Command, FormContext, Input, Prompt
from bot.media import telegram_fetcher
from bot.render import answer_tap, show, to_input
from domain.audit import Actor
from domain.scope import scope_for

log = logging.getLogger(__name__)
# Updates of one chat are applied one at a time in this process; across processes the draft's
# version column makes the later writer fail and retry.
_chat_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


def conversations_of(context: ContextTypes.DEFAULT_TYPE) -> Conversations:
    return context.bot_data["conversations"]  # type: ignore[no-any-return]


async def on_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Routes a message or button tap of a bound user into the conversation engine."""
    given, chat = to_input(update), update.effective_chat
    if given is None or chat is None or update.effective_user is None:
        return
    query = update.callback_query
    applied = await _apply(update, context, chat.id, given)
    if applied is None:  # a redelivered update: already applied and answered
        if query is not None:
            await answer_tap(query)
        return
    caller, outcome = applied
    if caller.staff is None:
        if query is not None:
            await answer_tap(query, caller.text("onboarding.unbound")[:190], alert=True)
        else:
            await context.bot.send_message(caller.chat_id, caller.text("onboarding.unbound"))
        return
    if not outcome.handled:
        key = "error.not_understood" if not isinstance(given, Command) else "error.unknown_command"
        outcome = Outcome([Prompt(caller.text(key))])
    await show(context.bot, caller.chat_id, outcome, query, caller.text("form.received"))


async def _apply(
    update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int, given: Input
) -> tuple[Caller, Outcome] | None:
    """Who is writing and what their input does, in one transaction; None for an update seen before.
    An unbound person gets an empty outcome and nothing is stored."""
    services = services_of(context)
    conversations = conversations_of(context)
    async with _chat_locks[chat_id]:
        for attempt in range(3):
            try:
                async with services.uow() as uow:
                    if await uow.updates.seen(update.update_id):
                        return None
                    caller = await identify_in(uow, update, services.settings.default_language)
                    assert caller is not None  # the update has a user and a chat
                    staff = caller.staff
                    if staff is None:
                        return caller, Outcome()
                    now = services.clock.now()
                    ctx = FormContext(
                        uow=uow,
                        services=services,
                        staff=staff,
                        scope=await scope_for(uow, staff),
                        actor=Actor(staff.id, f"telegram:{chat_id}", "telegram"),
                        language=caller.language,
                        now=now,
                        fetch_media=telegram_fetcher(context.bot),
                    )
                    outcome = await conversations.handle(ctx, chat_id, given)
                    if outcome.discard_changes:
                        await uow.session.rollback()
                    else:
                        staff.last_active_at = now
                    uow.updates.mark(update.update_id, now)
                    await uow.commit()
                    return caller, outcome
            except StaleDataError:
                log.info("draft of chat changed concurrently; retrying update %s", update.update_id)
            except IntegrityError:
                async with services.uow() as uow:
                    if await uow.updates.seen(update.update_id):
                        return None  # another worker applied the same update first
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"update {update.update_id} kept conflicting")
