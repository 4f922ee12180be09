"""/mycases: my open cases, most urgent first, a page at a time, with buttons for the next action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.context import CHANNEL, Caller, bot_id, identify, services_of
from bot.conversations.labels import case_label, local_date
from bot.conversations.model import FormContext
from bot.render import START_FORM, answer_tap
from bot.replies import kept, markup_of, send_again
from domain.audit import Actor, audit
from domain.casework.mycases import CaseItem, my_open_cases
from domain.people.scope import scope_for

PAGE_SIZE = 8
LIST_PAGE = "mc"  # callback data: mc:<page>


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
    _, _, page = (query.data or "").partition(":")
    rendered = await _render(update, context, caller, int(page) if page.isdigit() else 0)
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
        items = await my_open_cases(uow, scope, now=now, policy=services.policy, tz=services.tz)
        if not items:
            await uow.updates.keep_reply(
                update.update_id, kept(caller.text("mycases.empty")), channel=CHANNEL, bot_id=bot_id(context)
            )
            await uow.commit()
            return caller.text("mycases.empty"), None
        pages = -(-len(items) // PAGE_SIZE)
        page = min(max(page, 0), pages - 1)
        shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        lines = [caller.text("mycases.header", n=len(items), page=page + 1, pages=pages)]
        rows: list[list[InlineKeyboardButton]] = []
        for number, item in enumerate(shown, start=page * PAGE_SIZE + 1):
            lines.append(f"\n{number}. {await case_label(ctx, item.case)}\n{_deadline(ctx, item)}")
            rows.append(_actions(caller, number, item))
        rows = [r for r in rows if r]
        if pages > 1:
            rows.append(_navigation(page, pages))
        text, markup = "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None
        audit(uow, actor, now, "view", "case_list", None, page=page + 1, shown=len(shown))
        await uow.updates.keep_reply(
            update.update_id, kept(text, markup), channel=CHANNEL, bot_id=bot_id(context)
        )
        await uow.commit()
    return text, markup


@dataclass(frozen=True)
class Seen:
    reply: dict[str, Any] | None  # the page shown when the update was handled


def _deadline(ctx: FormContext, item: CaseItem) -> str:
    if item.deadline is None:
        return "   " + ctx.t("mycases.no_deadline")
    text = "   " + ctx.t(
        "mycases.next_step", step=ctx.t(f"step.{item.deadline}"), date=local_date(ctx, item.due_at)
    )
    return text + " " + ctx.t("mycases.overdue") if item.overdue else text


def _actions(caller: Caller, number: int, item: CaseItem) -> list[InlineKeyboardButton]:
    buttons = []
    if item.can_visit:
        buttons.append(
            InlineKeyboardButton(
                caller.text("mycases.visit_button", n=number),
                callback_data=f"{START_FORM}:visit:{item.case.id}",
            )
        )
    if item.can_return:
        buttons.append(
            InlineKeyboardButton(
                caller.text("mycases.return_button", n=number),
                callback_data=f"{START_FORM}:return:{item.case.id}",
            )
        )
    return buttons


def _navigation(page: int, pages: int) -> list[InlineKeyboardButton]:
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=f"{LIST_PAGE}:{page - 1}"))
    nav.append(InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=f"{LIST_PAGE}:{page}"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=f"{LIST_PAGE}:{page + 1}"))
    return nav
