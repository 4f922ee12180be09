"""Buttons on reminders and digests, on Telegram: decoded and applied by bot.actions (the same for every
channel); here only the update's bookkeeping and the alert that answers the tap.

"Log the visit now" and "confirm the return" are go:<form>:<case id> buttons handled by the forms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import CallbackQuery, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.actions import apply_reminder_action, reminder_action
from bot.context import CHANNEL, Caller, bot_id, identify, services_of
from bot.render import answer_tap
from domain.audit import Actor
from domain.messages import Action

log = logging.getLogger(__name__)
PATTERN = r"^rm:"


async def _answer(query: CallbackQuery, text: str) -> bool:
    """Shows the answer as an alert; False when the tap cannot be answered any more."""
    try:
        await query.answer(text[:190], show_alert=True)
        return True
    except BadRequest as exc:  # already answered, or too old (a redelivered update)
        log.info("reminder button not answered: %s", exc)
        return False


async def on_reminder_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Applies the tap in one transaction and answers it with a short alert."""
    query = update.callback_query
    caller = await identify(update, context)
    if query is None or caller is None:
        return
    if caller.staff is None:
        await _answer(query, caller.text("onboarding.unbound"))
        return
    action = reminder_action(query.data or "")
    if action is None:
        await _answer(query, caller.text("reminder.unknown"))
        return
    text = await _apply(update.update_id, context, caller, action)
    if isinstance(text, Replayed):
        # Applied before (a redelivery, maybe after the process died before answering): its answer
        # again, as a message when the tap is too old to be answered.
        if text.answer is None:
            await answer_tap(query)
        elif not await _answer(query, text.answer):
            await context.bot.send_message(caller.chat_id, text.answer)
    else:
        await _answer(query, text)


@dataclass(frozen=True)
class Replayed:
    answer: str | None  # what the tap was answered with when it was applied


async def _apply(
    update_id: int, context: ContextTypes.DEFAULT_TYPE, caller: Caller, action: Action
) -> str | Replayed:
    """The tap's answer, kept with the update; Replayed for an update applied before."""
    services = services_of(context)
    assert caller.staff is not None
    async with services.uow() as uow:
        staff = await uow.directory.staff(caller.staff.id)
        assert staff is not None
        actor = Actor(staff.id, f"telegram:{caller.chat_id}", "telegram")
        now = services.clock.now()
        if not await uow.updates.first(update_id, now, channel=CHANNEL, bot_id=bot_id(context)):
            kept = await uow.updates.reply(update_id, channel=CHANNEL, bot_id=bot_id(context))
            return Replayed(None if kept is None else kept["answer"])
        answer = await apply_reminder_action(
            uow,
            staff,
            actor,
            action,
            language=caller.language,
            now=now,
            policy=services.policy,
            tz=services.tz,
        )
        if answer.keep:
            await uow.updates.keep_reply(
                update_id, {"answer": answer.text}, channel=CHANNEL, bot_id=bot_id(context)
            )
            await uow.commit()
        return answer.text
