"""/mycases: my open cases, most urgent first, a page at a time, with buttons for the next action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.context import CHANNEL, Caller, bot_id, identify, services_of
from bot.conversations.model import FormContext
from bot.conversations.mycases import cases_page, page_of
from bot.render import answer_tap
from bot.replies import kept, markup_of, send_again
from domain.audit import Actor
from domain.people.scope import scope_for


async def mycases_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows the first page of the caller's open cases."""
    caller = await identify(update, context)
    if caller is None or update.effective_message is None:
        return
    if caller.staff is None:
        await update.effective_message.reply_text(caller.text("onboarding.unbound"))
        return
    shown = await _render(update, context, caller, 0)
    if isinstance(shown, Seen):  # handled before: its view is audited; the list again, maybe lost then
        await send_again(context.bot, caller.chat_id, shown.reply)
    else:
        await update.effective_message.reply_text(shown[0], reply_markup=shown[1])


async def mycases_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Turns the page of the list in place (callback data mc:<page>)."""
    query = update.callback_query
    caller = await identify(update, context)
    if caller is None or query is None:
        return
    if caller.staff is None:
        await answer_tap(query, caller.text("onboarding.unbound")[:190], alert=True)
        return
    rendered = await _render(update, context, caller, page_of(query.data or "") or 0)
    shown: tuple[str, InlineKeyboardMarkup | None] | None
    if isinstance(rendered, Seen):  # handled before: the same page again (the edit may not have been made)
        shown = (rendered.reply["text"], markup_of(rendered.reply)) if rendered.reply else None
    else:
        shown = rendered
    if shown is not None:
        try:
            await query.edit_message_text(shown[0], reply_markup=shown[1])
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
    await answer_tap(query)


async def _render(
    update: Update, context: ContextTypes.DEFAULT_TYPE, caller: Caller, page: int
) -> tuple[str, InlineKeyboardMarkup | None] | Seen:
    """The page's text and buttons, the view audited and the page kept with the update; Seen for an
    update handled before (its view is audited already)."""
    services = services_of(context)
    assert caller.staff is not None
    async with services.uow() as uow:
        staff = await uow.directory.staff(caller.staff.id)
        assert staff is not None
        now = services.clock.now()
        if not await uow.updates.first(update.update_id, now, channel=CHANNEL, bot_id=bot_id(context)):
            return Seen(await uow.updates.reply(update.update_id, channel=CHANNEL, bot_id=bot_id(context)))
        actor = Actor(staff.id, f"telegram:{caller.chat_id}", "telegram")
        scope = await scope_for(uow, staff)
        ctx = FormContext(
            uow=uow,
            services=services,
            staff=staff,
            scope=scope,
            actor=actor,
            language=caller.language,
            now=now,
        )
        shown = await cases_page(ctx, page)
        rows = [
            [InlineKeyboardButton(label, callback_data=key) for label, key in row] for row in shown.buttons
        ]
        text, markup = shown.text, InlineKeyboardMarkup(rows) if rows else None
        await uow.updates.keep_reply(
            update.update_id, kept(text, markup), channel=CHANNEL, bot_id=bot_id(context)
        )
        await uow.commit()
    return text, markup


@dataclass(frozen=True)
class Seen:
    reply: dict[str, Any] | None  # the page shown when the update was handled
