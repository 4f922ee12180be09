"""Phone features against a real python-telegram-bot application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from sandbox import Emulator
from sandbox.phone import Phone, PhoneError
from sandbox.state import BotState
from tests.sandbox.conftest import polling_app

MENU = ReplyKeyboardMarkup(
    [["Plain"], [KeyboardButton("Where", request_location=True), KeyboardButton("Me", request_contact=True)]],
    one_time_keyboard=True,
)


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text("menu", reply_markup=MENU)


async def describe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer with what kind of message arrived, so tests can see what the bot got."""
    message = update.effective_message
    assert message is not None
    if update.edited_message is not None:
        text = f"edited {message.text}"
    elif message.location:
        text = f"loc {message.location.latitude},{message.location.longitude}"
    elif message.contact:
        text = f"contact {message.contact.phone_number} {message.contact.user_id}"
    elif message.document:
        doc = message.document
        text = f"doc {doc.file_name} {doc.mime_type} {doc.file_size}"
    elif message.sticker:
        text = f"sticker {message.sticker.emoji}"
    elif message.voice:
        text = f"voice {message.voice.mime_type}"
    elif message.video:
        text = "videos are not accepted"
    elif message.text == "bye":
        await message.reply_text("keyboard gone", reply_markup=ReplyKeyboardRemove())
        return
    else:
        text = f"text {message.text}"
    await message.reply_text(text)


HANDLERS = [CommandHandler("menu", menu), MessageHandler(filters.ALL, describe)]


@pytest.fixture
async def running(emulator: Emulator, bot: BotState):
    async with polling_app(emulator, bot, HANDLERS) as app:
        yield app


async def ask(phone: Phone, action: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> str:
    await action(*args, **kwargs)
    return (await phone.wait_for_reply(timeout=15))["text"]


async def test_reply_keyboard_buttons(running: object, phone: Phone) -> None:
    await phone.send("/menu")
    reply = await phone.wait_for_reply(timeout=15)
    assert reply["reply_markup"]["keyboard"][0][0] == {"text": "Plain"}
    assert phone.chat["reply_keyboard"]["one_time_keyboard"] is True
    assert await ask(phone, phone.tap, "Plain") == "text Plain"
    assert await ask(phone, phone.tap, "Where", location=(25.0, 102.7)) == "loc 25.0,102.7"
    assert await ask(phone, phone.tap, "Me") == f"contact +999{phone.user_id} {phone.user_id}"
    assert await ask(phone, phone.send, "bye") == "keyboard gone"
    await phone.refresh()
    assert phone.chat["reply_keyboard"] is None
    with pytest.raises(PhoneError, match="no button labelled"):
        await phone.tap("Plain")


async def test_media_kinds(running: object, phone: Phone) -> None:
    assert await ask(phone, phone.send_location, 24.88, 102.83) == "loc 24.88,102.83"
    assert (
        await ask(phone, phone.send_contact, "+8613800000000", "Zhang", user_id=None)
        == "contact +8613800000000 None"
    )
    assert (
        await ask(phone, phone.send_document, b"%PDF-1.4 fake", "consent.pdf")
        == "doc consent.pdf application/pdf 13"
    )
    assert (
        await ask(phone, phone.send_document, b"\x89PNG fake", "scan.png", "image/png")
        == "doc scan.png image/png 9"
    )
    assert await ask(phone, phone.send_sticker, "🙂") == "sticker 🙂"
    assert await ask(phone, phone.send_voice, 2) == "voice audio/ogg"
    assert await ask(phone, phone.send_video) == "videos are not accepted"


async def test_edited_message_and_history(running: object, phone: Phone) -> None:
    sent = await phone.send("tpyo")
    await phone.wait_for_reply(timeout=15)
    assert await ask(phone, phone.edit, sent["message_id"], "typo fixed") == "edited typo fixed"
    chat = await phone._call("GET", f"/_control/bots/{phone.bot}/chats/{phone.user_id}")
    mine = next(m for m in chat["messages"] if m["message_id"] == sent["message_id"])
    assert mine["text"] == "typo fixed" and mine["history"][0]["text"] == "tpyo"
    with pytest.raises(PhoneError, match="only your own text messages"):
        await phone.edit(sent["message_id"] + 1, "not mine")


async def test_command_entities_use_utf16_offsets(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    await phone.start("case_17")
    await phone.send("😀 /report@sandbox_test_bot now")
    start, report = (u["message"] for u in bot.pending)
    assert start["text"] == "/start case_17"
    assert start["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert report["entities"] == [{"type": "bot_command", "offset": 3, "length": 24}]


async def test_photo_sizes_are_realistic(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    await phone.send_photo(width=2000, height=1000, caption="evidence")
    photo = bot.pending[-1]["message"]["photo"]
    assert [(p["width"], p["height"]) for p in photo] == [(90, 45), (320, 160), (800, 400), (1280, 640)]
    for size in photo:
        stored = emulator.registry.files.get(size["file_id"])
        assert stored is not None and len(stored.data) == size["file_size"]
    assert bot.pending[-1]["message"]["caption"] == "evidence"
