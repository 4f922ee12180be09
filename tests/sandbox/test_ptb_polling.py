"""python-telegram-bot 22 against the emulator in polling mode."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from sandbox import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from tests.sandbox.conftest import polling_app

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Yes", callback_data="answer:yes"),
            InlineKeyboardButton("No", callback_data="answer:no"),
        ]
    ]
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(f"echo: {update.message.text}", reply_markup=KEYBOARD)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(f"started with {context.args}")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer(text="noted")
    await query.edit_message_text(f"you chose {query.data.split(':')[1]}")


HANDLERS = [
    CommandHandler("start", start),
    MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
    CallbackQueryHandler(on_button),
]


async def test_echo_and_inline_button(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    async with polling_app(emulator, bot, HANDLERS) as app:
        assert app.bot.username == "sandbox_test_bot"
        await phone.send("你好 hello")
        reply = await phone.wait_for_reply(timeout=15)
        assert reply["text"] == "echo: 你好 hello"
        assert reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "answer:yes"

        await phone.tap("No")
        edited = await phone.wait_for_reply(lambda m: m.get("edit_date") is not None, timeout=15)
        assert edited["text"] == "you chose no"
        assert "reply_markup" not in edited or edited["reply_markup"] is None
        assert edited["history"][0]["text"] == "echo: 你好 hello"
        await phone.refresh()
        assert phone.callback_answers[-1]["text"] == "noted"


async def test_deep_link_start_payload(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    async with polling_app(emulator, bot, HANDLERS):
        await phone.start("bind-T42")
        reply = await phone.wait_for_reply(timeout=15)
        assert reply["text"] == "started with ['bind-T42']"


async def test_tap_on_old_message_still_works(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    async with polling_app(emulator, bot, HANDLERS):
        await phone.send("first")
        first = await phone.wait_for_reply(timeout=15)
        await phone.send("second")
        await phone.wait_for_reply(lambda m: m["text"] == "echo: second", timeout=15)
        await phone.tap("Yes", message_id=first["message_id"])
        edited = await phone.wait_for_reply(lambda m: m.get("edit_date") is not None, timeout=15)
        assert edited["message_id"] == first["message_id"]
        assert edited["text"] == "you chose yes"


async def test_download_photo_sent_by_phone(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    received: list[bytes] = []

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        largest = update.message.photo[-1]
        file = await context.bot.get_file(largest.file_id)
        data = await file.download_as_bytearray()
        assert len(data) == largest.file_size
        received.append(bytes(data))
        await update.message.reply_text(f"got {largest.width}x{largest.height}")

    async with polling_app(emulator, bot, [MessageHandler(filters.PHOTO, on_photo)]):
        await phone.send_photo(width=1600, height=1200)
        reply = await phone.wait_for_reply(timeout=15)
        assert reply["text"] == "got 1280x960"
        assert received[0][:2] == b"\xff\xd8"  # JPEG


async def test_bot_sends_photo_and_document(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    from sandbox.files import make_test_image

    await phone.send("/start")
    async with polling_app(emulator, bot, []) as app:
        sent = await app.bot.send_photo(phone.user_id, make_test_image(900, 600, fmt="PNG"), caption="map")
        assert [p.width for p in sent.photo] == [90, 320, 800, 900]
        again = await app.bot.send_photo(phone.user_id, sent.photo[-1].file_id)
        assert again.photo[-1].file_id == sent.photo[-1].file_id
        doc = await app.bot.send_document(phone.user_id, b"a,b\n1,2\n", filename="roster.csv")
        assert doc.document is not None and doc.document.file_name == "roster.csv"
        file = await app.bot.get_file(doc.document.file_id)
        assert await file.download_as_bytearray() == b"a,b\n1,2\n"
        await app.bot.send_location(phone.user_id, latitude=25.04, longitude=102.71)
        assert await app.bot.delete_message(phone.user_id, again.message_id)
    messages = await phone.refresh()
    assert messages[0]["caption"] == "map" and messages[0]["photo"][-1]["width"] == 900
    assert messages[1]["deleted"] is True
    assert messages[2]["document"]["mime_type"] == "text/csv"
    assert messages[3]["location"] == {"latitude": 25.04, "longitude": 102.71}
