"""Replies kept with the update they answer (processed_updates.reply), for handlers that store something.

A process can die between committing an update and sending its reply (a kill, or while waiting out a
429). Telegram then delivers the update again; it changes nothing the second time, and the kept reply
is sent instead, so the person sees at most a repeated message and never a bot that went silent.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Message
from telegram.ext import ExtBot


def kept(text: str, markup: InlineKeyboardMarkup | None = None) -> dict[str, Any]:
    return {"text": text, "markup": markup.to_dict() if markup is not None else None}


def markup_of(reply: dict[str, Any]) -> InlineKeyboardMarkup | None:
    data = reply.get("markup")
    return InlineKeyboardMarkup.de_json(data, None) if data else None


async def send_again(bot: ExtBot, chat_id: int, reply: dict[str, Any] | None) -> Message | None:  # type: ignore[type-arg]
    """Sends a kept reply again; nothing when none was kept."""
    if reply is None:
        return None
    return await bot.send_message(chat_id, reply["text"], reply_markup=markup_of(reply))
