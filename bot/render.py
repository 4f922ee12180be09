"""Turns channel-neutral prompts into Telegram messages and keyboards, and Telegram updates into inputs."""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest

from bot.conversations.engine import Outcome
from bot.conversations.keys import REMINDER_TAP, START_FORM, choice_key, decode_key
from bot.conversations.model import Command, Input, Location, Photo, Prompt, Text, Unsupported
from bot.inbox import InboxBot
from domain.messages import Action

log = logging.getLogger(__name__)
# Files (documents) taken as photos: any image/* type or an image's extension. Those the photo decoder does
# not accept (GIF, BMP, TIFF, …) are then refused as "format not supported", not as "not an image".
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif", ".bmp", ".tif", ".tiff")

_ACTION_DATA = {
    "visit": f"{START_FORM}:visit:{{}}",
    "return": f"{START_FORM}:return:{{}}",
    "homeschool": f"{START_FORM}:homeschool:{{}}",  # the target is a home-teaching plan
    "rollcall": f"{START_FORM}:rollcall:{{}}",  # the id is the reminder's; the form asks for the class
    "snooze": f"{REMINDER_TAP}:snooze:{{}}",
    "retention_ok": f"{REMINDER_TAP}:ret:{{}}:ok",
    "retention_absent": f"{REMINDER_TAP}:ret:{{}}:no",
    "acknowledge": f"{REMINDER_TAP}:ack:{{}}",
    "approve_closing": f"{REMINDER_TAP}:close:{{}}",
    "confirm_report": f"{REMINDER_TAP}:report:{{}}",
}


def callback_data(action: Action) -> str:
    """A typed action as Telegram callback data (at most 64 bytes: names and ids only)."""
    return _ACTION_DATA[action.name].format(action.target)


def without_nul(text: str) -> str:
    """Drops NUL characters: PostgreSQL cannot store them in text, and nobody means to type them."""
    return text.replace("\x00", "")


def to_input(update: Update) -> Input | None:
    """The user's action as a conversation input; None for updates that carry nothing to answer.
    Text is NUL-free here, so no form step ever sees a NUL."""
    if (query := update.callback_query) is not None:
        return decode_key(without_nul(query.data or ""))
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        text = without_nul(message.text)
        if text.startswith("/"):
            head, *rest = text[1:].split() or [""]  # a bare "/" is an unknown command
            return Command(head.split("@")[0].lower(), tuple(rest))
        return Text(text)
    if message.photo:
        biggest = message.photo[-1]
        return Photo(biggest.file_id, biggest.file_unique_id, biggest.file_size, "image/jpeg")
    if message.document is not None:
        doc = message.document
        if (doc.mime_type or "").lower().startswith("image/") or (doc.file_name or "").lower().endswith(
            IMAGE_EXTENSIONS
        ):
            return Photo(doc.file_id, doc.file_unique_id, doc.file_size, doc.mime_type, as_document=True)
        return Unsupported("document")
    if message.location is not None:
        return Location(message.location.latitude, message.location.longitude)
    for kind in ("sticker", "voice", "video", "video_note", "audio", "contact", "animation", "poll", "dice"):
        if getattr(message, kind, None):
            return Unsupported(kind)
    return Unsupported("other")


REMOVE = {"remove_keyboard": True}  # ReplyKeyboardRemove


def markup_for(prompt: Prompt, seq: int) -> dict[str, Any] | None:
    """The prompt's keyboard as Bot API JSON (InlineKeyboardMarkup, ReplyKeyboardMarkup or
    ReplyKeyboardRemove): built as plain data, since every step sends one (see `show`)."""
    if prompt.buttons:
        rows = [
            [{"text": c.label, "callback_data": choice_key(seq, c.value)} for c in row]
            for row in prompt.buttons
        ]
        return {"inline_keyboard": rows}
    if prompt.request_location:
        keys = [[{"text": prompt.request_location, "request_location": True}]]
        keys += [[{"text": label}] for label in prompt.extra_keys]
        return {"keyboard": keys, "resize_keyboard": True, "one_time_keyboard": True}
    if prompt.remove_keyboard:
        return REMOVE
    return None


async def show(
    bot: InboxBot,
    chat_id: int,
    outcome: Outcome,
    query: CallbackQuery | None,  # type: ignore[type-arg]
    received_key: str,
) -> None:
    """Sends (or edits in place) every prompt of the outcome, then answers the button tap. The messages go
    as Bot API JSON and their answers are not turned into Message objects (`InboxBot.call`): a form step
    costs about as much as python-telegram-bot's own update handling, and nothing here reads them."""
    for index, prompt in enumerate(outcome.prompts):
        markup = markup_for(prompt, outcome.seq)
        if prompt.remove_keyboard and prompt.buttons:
            # A reply keyboard cannot be removed by a message that has inline buttons.
            await bot.call("sendMessage", {"chat_id": chat_id, "text": received_key, "reply_markup": REMOVE})
        if index == 0 and outcome.in_place and query is not None and isinstance(query.message, Message):
            shown = query.message
            edit = {"chat_id": shown.chat.id, "message_id": shown.message_id, "text": prompt.text}
            try:
                await bot.call("editMessageText", edit | {"reply_markup": markup})
                continue
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    continue
                log.info("could not edit prompt in place: %s", exc)
        await bot.call("sendMessage", {"chat_id": chat_id, "text": prompt.text, "reply_markup": markup})
    if query is not None:
        await answer_tap(query, outcome.toast or None)


async def answer_tap(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Stops the button's spinner; a query already answered (a redelivered update) is not an error."""
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:
        log.info("callback query not answered: %s", exc)
