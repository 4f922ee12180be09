"""Every form input: one transaction per update (deduplicated by update_id), then the replies."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from telegram import Update
from telegram.ext import ContextTypes

from bot.context import identify, services_of
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
    caller = await identify(update, context)
    given = to_input(update)
    if caller is None or given is None:
        return
    query = update.callback_query
    if caller.staff is None:
        if query is not None:
            await answer_tap(query, caller.text("onboarding.unbound")[:190], alert=True)
        else:
            await context.bot.send_message(caller.chat_id, caller.text("onboarding.unbound"))
        return
    outcome = await _apply(update, context, caller.staff.id, caller.chat_id, caller.language, given)
    if outcome is None:  # a redelivered update: already applied and answered
        if query is not None:
            await answer_tap(query)
        return
    if not outcome.handled:
        key = "error.not_understood" if not isinstance(given, Command) else "error.unknown_command"
        outcome = Outcome([Prompt(caller.text(key))])
    await show(context.bot, caller.chat_id, outcome, query, caller.text("form.received"))


async def _apply(update: Update, context: ContextTypes.DEFAULT_TYPE, staff_id: int, chat_id: int,
                 language: str, given: Input) -> Outcome | None:
    services = services_of(context)
    conversations = conversations_of(context)
    async with _chat_locks[chat_id]:
        for attempt in range(3):
            try:
                async with services.uow() as uow:
                    if await uow.updates.seen(update.update_id):
                        return None
                    staff = await uow.directory.staff(staff_id)
                    assert staff is not None
                    now = services.clock.now()
                    ctx = FormContext(uow=uow, services=services, staff=staff, scope=await scope_for(uow, staff),
                                      actor=Actor(staff.id, f"telegram:{chat_id}", "telegram"), language=language,
                                      now=now, fetch_media=telegram_fetcher(context.bot))
                    outcome = await conversations.handle(ctx, chat_id, given)
                    if outcome.discard_changes:
                        await uow.session.rollback()
                    else:
                        staff.last_active_at = now
                    uow.updates.mark(update.update_id, now)
                    await uow.commit()
                    return outcome
            except StaleDataError:
                log.info("draft of chat changed concurrently; retrying update %s", update.update_id)
            except IntegrityError:
                async with services.uow() as uow:
                    if await uow.updates.seen(update.update_id):
                        return None  # another worker applied the same update first
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"update {update.update_id} kept conflicting")

