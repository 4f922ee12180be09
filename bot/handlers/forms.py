"""Every form input on Telegram: bot.conversations.apply applies it (one transaction per update,
deduplicated by update_id), then the replies are shown here."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import ContextTypes

from bot.context import CHANNEL, bot_id, services_of
from bot.conversations.apply import Arrival, Replayed, apply_input, mark_delivered
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import Input
from bot.inbox import InboxBot
from bot.media import telegram_fetcher
from bot.render import answer_tap, show, to_input

log = logging.getLogger(__name__)


def conversations_of(context: ContextTypes.DEFAULT_TYPE) -> Conversations:
    return context.bot_data["conversations"]  # type: ignore[no-any-return]


def replier(context: ContextTypes.DEFAULT_TYPE) -> InboxBot:
    """The application's bot (bot.application builds an InboxBot): it sends the form's replies as JSON."""
    bot = context.bot
    assert isinstance(bot, InboxBot)
    return bot


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
    query, user = update.callback_query, update.effective_user
    assert user is not None  # on_input checked
    arrival = Arrival(
        CHANNEL, bot_id(context), update.update_id, str(user.id), str(chat_id), user.language_code
    )
    applied = await apply_input(
        services_of(context), conversations_of(context), arrival, given, telegram_fetcher(context.bot)
    )
    if isinstance(applied, Replayed):
        # Applied before: by a process that died between its commit and its reply (a kill, or a wait
        # for Telegram's 429), or the reply went out and the update came again. Showing the kept reply
        # costs at most a repeated message; showing nothing could leave the person with a silent bot.
        if applied.reply is None:
            if query is not None:
                await answer_tap(query)
            return
        outcome = Outcome.from_record(applied.reply["outcome"])
        await show(replier(context), chat_id, outcome, query, applied.reply["received"])
        await _delivered(context, user.id, outcome)
        return
    speaker, outcome = applied.speaker, applied.outcome
    if speaker.staff is None:
        if query is not None:
            await answer_tap(query, speaker.text("onboarding.unbound")[:190], alert=True)
        else:
            await context.bot.send_message(chat_id, speaker.text("onboarding.unbound"))
        return
    await show(replier(context), chat_id, outcome, query, speaker.text("form.received"))
    await _delivered(context, user.id, outcome)


async def _delivered(context: ContextTypes.DEFAULT_TYPE, user_id: int, outcome: Outcome) -> None:
    """Notes that a submitted form's confirmation reached the chat (show() raises when it did not: then a
    later tap on the form's buttons sends it again)."""
    if not outcome.confirms:
        return
    try:
        await mark_delivered(services_of(context), CHANNEL, str(user_id))
    except SQLAlchemyError as exc:  # at worst the confirmation is shown once more later
        log.info("receipt of chat not marked delivered: %r", exc)
