"""Every form input: one transaction per update (deduplicated by update_id), then the replies."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from telegram import Update
from telegram.ext import ContextTypes

from bot.context import CHANNEL, Caller, bot_id, identify_in, services_of
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import Command, FormContext, Input, Prompt
from bot.media import telegram_fetcher
from bot.render import answer_tap, show, to_input
from domain.audit import Actor
from domain.people.scope import scope_for
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


def conversations_of(context: ContextTypes.DEFAULT_TYPE) -> Conversations:
    return context.bot_data["conversations"]  # type: ignore[no-any-return]


def chat_lock(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> asyncio.Lock:
    """Updates of one chat are applied and answered one at a time in this application (its own event
    loop), so replies come in the order of the steps; across processes the draft's version column makes
    the later writer fail and retry."""
    locks: defaultdict[int, asyncio.Lock] = context.bot_data.setdefault(
        "chat_locks", defaultdict(asyncio.Lock)
    )
    return locks[chat_id]


async def on_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Routes a message or button tap of a bound user into the conversation engine."""
    given, chat = to_input(update), update.effective_chat
    if given is None or chat is None or update.effective_user is None:
        return
    async with chat_lock(context, chat.id):
        await _apply_and_answer(update, context, chat.id, given)


async def _apply_and_answer(
    update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int, given: Input
) -> None:
    query = update.callback_query
    applied = await _apply(update, context, chat_id, given)
    if isinstance(applied, Replayed):
        # Applied before: by a process that died between its commit and its reply (a kill, or a wait
        # for Telegram's 429), or the reply went out and the update came again. Showing the kept reply
        # costs at most a repeated message; showing nothing could leave the person with a silent bot.
        if applied.reply is None:
            if query is not None:
                await answer_tap(query)
            return
        outcome = Outcome.from_record(applied.reply["outcome"])
        await show(context.bot, chat_id, outcome, query, applied.reply["received"])
        if update.effective_user is not None:
            await _delivered(context, update.effective_user.id, outcome)
        return
    caller, outcome = applied
    if caller.staff is None:
        if query is not None:
            await answer_tap(query, caller.text("onboarding.unbound")[:190], alert=True)
        else:
            await context.bot.send_message(caller.chat_id, caller.text("onboarding.unbound"))
        return
    await show(context.bot, caller.chat_id, outcome, query, caller.text("form.received"))
    await _delivered(context, caller.telegram_user_id, outcome)


async def _delivered(context: ContextTypes.DEFAULT_TYPE, user_id: int, outcome: Outcome) -> None:
    """Notes that a submitted form's confirmation reached the chat (show() raises when it did not: then a
    later tap on the form's buttons sends it again)."""
    if not outcome.confirms:
        return
    try:
        async with services_of(context).uow() as uow:
            if (account := await uow.directory.account(CHANNEL, str(user_id))) is not None:
                await uow.drafts.mark_delivered(account.id)
                await uow.commit()
    except SQLAlchemyError as exc:  # at worst the confirmation is shown once more later
        log.info("receipt of chat not marked delivered: %r", exc)


async def _still_current(uow: UnitOfWork, update_id: int, bot: int, user_id: int) -> dict[str, Any] | None:
    """The reply kept with an applied update, if the conversation has not moved on since (a later
    update's reply is the one to see; an older step shown after it would only mislead)."""
    reply = await uow.updates.reply(update_id, channel=CHANNEL, bot_id=bot)
    account = await uow.directory.account(CHANNEL, str(user_id))
    draft = await uow.drafts.get(account.id) if account is not None else None
    if reply is None or reply["outcome"]["seq"] != (draft.seq if draft is not None else 0):
        return None
    return reply


@dataclass(frozen=True)
class Replayed:
    """An update applied before, and what it was answered with then (None: nothing was kept)."""

    reply: dict[str, Any] | None


async def _apply(
    update: Update, context: ContextTypes.DEFAULT_TYPE, chat_id: int, given: Input
) -> tuple[Caller, Outcome] | Replayed:
    """Who is writing and what their input does, in one transaction, with the reply kept beside the
    update's id; Replayed for an update seen before. An unbound person gets an empty outcome and nothing
    is stored."""
    services = services_of(context)
    conversations = conversations_of(context)
    bot = bot_id(context)
    assert update.effective_user is not None  # on_input checked
    caller_id = update.effective_user.id
    for attempt in range(3):
        try:
            async with services.uow() as uow:
                if await uow.updates.seen(update.update_id, channel=CHANNEL, bot_id=bot):
                    return Replayed(await _still_current(uow, update.update_id, bot, caller_id))
                caller = await identify_in(uow, update, services.settings.default_language)
                assert caller is not None  # the update has a user and a chat
                staff = caller.staff
                if staff is None or caller.account_id is None:
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
                outcome = await conversations.handle(ctx, caller.account_id, given)
                if outcome.discard_changes:
                    await uow.session.rollback()
                else:
                    staff.last_active_at = now
                if not outcome.handled:
                    key = (
                        "error.not_understood" if not isinstance(given, Command) else "error.unknown_command"
                    )
                    outcome = Outcome([Prompt(caller.text(key))])
                reply = {"outcome": outcome.record(), "received": caller.text("form.received")}
                uow.updates.mark(update.update_id, now, reply, channel=CHANNEL, bot_id=bot)
                await uow.commit()
                return caller, outcome
        except StaleDataError:
            log.info("draft of chat changed concurrently; retrying update %s", update.update_id)
        except IntegrityError:
            async with services.uow() as uow:
                if await uow.updates.seen(
                    update.update_id, channel=CHANNEL, bot_id=bot
                ):  # another worker applied it first
                    return Replayed(None)  # and that worker answers it
            raise
        await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"update {update.update_id} kept conflicting")
