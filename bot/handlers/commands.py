"""/start (invite deep link), /help and /language: parse, call the domain, reply from the catalog."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.context import CHANNEL, Caller, bot_id, identify, services_of
from bot.conversations.catalogue import help_text, role_label
from bot.render import answer_tap, without_nul
from bot.replies import kept, send_again
from domain.errors import InviteInvalid
from domain.people.invites import redeem_invite
from domain.people.language import choose, language_of
from domain.people.roles import Role
from i18n import LANGUAGES, t


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Binds the account when an invite code comes with /start; otherwise greets or explains."""
    caller = await identify(update, context)
    if caller is None or update.effective_message is None:
        return
    code = without_nul(context.args[0]) if context.args else None
    if code is None:
        await _greet(update, caller)
        return
    services = services_of(context)
    async with services.uow() as uow:
        if not await uow.updates.first(
            update.update_id, services.clock.now(), channel=CHANNEL, bot_id=bot_id(context)
        ):
            # Handled before (a replay or a redelivery): the account is bound, or was refused; say so again.
            await send_again(
                context.bot,
                caller.chat_id,
                await uow.updates.reply(update.update_id, channel=CHANNEL, bot_id=bot_id(context)),
            )
            return
        try:
            reported = update.effective_user.language_code if update.effective_user else None
            staff = await redeem_invite(
                uow,
                code,
                channel=CHANNEL,
                account=str(caller.telegram_user_id),
                conversation=str(caller.chat_id),
                reported_language=reported,
                now=services.clock.now(),
            )
            # Known now: a choice they made before (another phone, the dashboard) holds from here on.
            language = language_of(staff, reported=reported, default=services.settings.default_language)
            text = t(language, "onboarding.bound", name=staff.name, role=role_label(language, staff.role))
        except InviteInvalid as exc:
            text = caller.text(f"onboarding.invite_{exc.reason}")  # the refusal's audit entry is kept
        await uow.updates.keep_reply(update.update_id, kept(text), channel=CHANNEL, bot_id=bot_id(context))
        await uow.commit()
    await update.effective_message.reply_text(text)


async def _greet(update: Update, caller: Caller) -> None:
    assert update.effective_message is not None
    if caller.staff is None:
        await update.effective_message.reply_text(caller.text("onboarding.unbound"))
    else:
        await update.effective_message.reply_text(
            caller.text(
                "onboarding.already_bound",
                name=caller.staff.name,
                role=role_label(caller.language, caller.staff.role),
            )
        )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists only the commands the person's role can use; coordinators also hear of the dashboard."""
    caller = await identify(update, context)
    if caller is None or update.effective_message is None:
        return
    if caller.staff is None:
        await update.effective_message.reply_text(caller.text("onboarding.unbound"))
        return
    await update.effective_message.reply_text(help_text(caller.language, Role(caller.staff.role)))


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    caller = await identify(update, context)
    if caller is None or update.effective_message is None:
        return
    if caller.staff is None:
        await update.effective_message.reply_text(caller.text("onboarding.unbound"))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, f"language.{lang}"), callback_data=f"lang:{lang}")
                for lang in LANGUAGES
            ]
        ]
    )
    await update.effective_message.reply_text(caller.text("language.choose"), reply_markup=keyboard)


async def language_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    caller = await identify(update, context)
    if query is None or caller is None:
        return
    language = (query.data or "").removeprefix("lang:")
    if caller.staff is None or language not in LANGUAGES:
        await answer_tap(query)
        return
    services = services_of(context)
    async with services.uow() as uow:
        # A replay or a redelivery changes nothing, but edits the message again: the edit may never have
        # been made, and making it twice is harmless.
        if await uow.updates.first(
            update.update_id, services.clock.now(), channel=CHANNEL, bot_id=bot_id(context)
        ):
            # One stored preference for every channel: reminders, reports and the dashboard follow it.
            staff = await uow.directory.staff(caller.staff.id)
            if staff is not None:
                choose(staff, language)
        await uow.commit()
    await answer_tap(query)
    try:
        await query.edit_message_text(t(language, "language.set"))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message changes nothing already recorded; say so once."""
    caller = await identify(update, context)
    if caller is None or caller.staff is None:
        return
    await context.bot.send_message(caller.chat_id, caller.text("error.edits_ignored"))
