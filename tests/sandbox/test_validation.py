"""Telegram-shaped errors from raw HTTP calls, and the matching python-telegram-bot exceptions."""

from __future__ import annotations

import json

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, InvalidToken

from sandbox import Emulator, fake_token
from sandbox.phone import Phone
from sandbox.state import BotState
from sandbox.tokens import looks_real


def ptb_bot(emulator: Emulator, token: str) -> Bot:
    return Bot(token, base_url=emulator.base_url, base_file_url=emulator.file_base_url)


async def call(
    http: httpx.AsyncClient, emulator: Emulator, token: str, method: str, **kwargs: object
) -> tuple[int, dict]:
    response = await http.post(f"{emulator.base_url}{token}/{method}", **kwargs)  # type: ignore[arg-type]
    return response.status_code, response.json()


async def test_fake_tokens_never_look_real() -> None:
    for bot_id in (1, 100001, 9999999):
        assert not looks_real(fake_token(bot_id))
    assert looks_real("1234567890:" + "A" * 35)
    with pytest.raises(ValueError):
        fake_token(12345678)


async def test_unknown_token_and_method(emulator: Emulator, bot: BotState, http: httpx.AsyncClient) -> None:
    assert await call(http, emulator, "999:nope", "getMe") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert await call(http, emulator, bot.token, "sendTelepathy") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    status, body = await call(http, emulator, bot.token, "GETME")  # method names are case-insensitive
    assert status == 200 and body["result"]["username"] == "sandbox_test_bot"
    with pytest.raises(InvalidToken, match="(?i)was rejected by the server"):
        async with ptb_bot(emulator, "999:nope"):
            pass


async def test_bodies_json_form_and_query(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.send("/start")
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    status, body = await call(
        http,
        emulator,
        bot.token,
        "sendMessage",
        json={"chat_id": phone.user_id, "text": "json", "reply_markup": markup},
    )
    assert status == 200 and body["result"]["reply_markup"] == markup
    status, body = await call(
        http,
        emulator,
        bot.token,
        "sendMessage",
        data={"chat_id": str(phone.user_id), "text": "form", "reply_markup": json.dumps(markup)},
    )
    assert status == 200 and body["result"]["text"] == "form"
    response = await http.get(
        f"{emulator.base_url}{bot.token}/sendMessage", params={"chat_id": phone.user_id, "text": "query"}
    )
    assert response.json()["result"]["chat"] == {
        "id": phone.user_id,
        "type": "private",
        "first_name": "Li",
        "last_name": "Wei",
        "username": "liwei",
    }


@pytest.mark.parametrize(
    ("payload", "description"),
    [
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": "USER", "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": "USER", "text": "x" * 4097}, "Bad Request: message is too long"),
        (
            {
                "chat_id": "USER",
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "B", "callback_data": "d" * 65}]]},
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        ({"chat_id": 5550001, "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": "@nobody", "text": "hi"}, "Bad Request: chat not found"),
        (
            {"chat_id": "USER", "text": "hi", "reply_markup": "{not json"},
            "Bad Request: can't parse reply_markup JSON object",
        ),
        (
            {"chat_id": "USER", "text": "hi", "disable_notification": "maybe"},
            'Bad Request: field "disable_notification" must be of type Boolean',
        ),
    ],
)
async def test_send_message_errors(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient, payload: dict, description: str
) -> None:
    await phone.send("/start")
    body = {k: (phone.user_id if v == "USER" else v) for k, v in payload.items()}
    status, answer = await call(http, emulator, bot.token, "sendMessage", json=body)
    assert (status, answer) == (400, {"ok": False, "error_code": 400, "description": description})


async def test_bot_cannot_write_first_or_when_blocked(
    emulator: Emulator, bot: BotState, phone: Phone
) -> None:
    async with ptb_bot(emulator, bot.token) as tg:
        with pytest.raises(BadRequest, match="(?i)chat not found"):  # the bot never met this person
            await tg.send_message(phone.user_id, "hello?")
        emulator.registry.chat(bot, phone.user_id)  # known to the bot, but the person never pressed START
        with pytest.raises(Forbidden, match="(?i)bot can't initiate conversation with a user"):
            await tg.send_message(phone.user_id, "hello?")
        await phone.start()
        await phone.block()
        with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
            await tg.send_message(phone.user_id, "hello?")
        assert bot.pending[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"


async def test_ptb_raises_bad_request(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    await phone.send("/start")
    async with ptb_bot(emulator, bot.token) as tg:
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await tg.send_message(phone.user_id, "")
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await tg.send_message(phone.user_id, "长" * 4097)
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
        with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
            await tg.send_message(phone.user_id, "pick", reply_markup=too_long)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]])
        sent = await tg.send_message(phone.user_id, "same", reply_markup=keyboard)
        with pytest.raises(BadRequest, match="(?i)message is not modified: specified new message content"):
            await tg.edit_message_text("same", phone.user_id, sent.message_id, reply_markup=keyboard)
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await tg.edit_message_reply_markup(phone.user_id, sent.message_id, reply_markup=keyboard)
        edited = await tg.edit_message_text("same", phone.user_id, sent.message_id)  # drops the keyboard
        assert isinstance(edited, Message) and edited.reply_markup is None
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await tg.edit_message_text("other", phone.user_id, 9999)
        with pytest.raises(BadRequest, match="(?i)message can't be edited"):
            await tg.edit_message_text("other", phone.user_id, 1)  # the person's own /start
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await tg.delete_message(phone.user_id, 9999)
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await tg.answer_callback_query("12345")
        with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
            await tg.send_photo(phone.user_id, "AgACnonexistent")
        with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
            await tg.send_photo(phone.user_id, b"not an image at all")


async def test_unimplemented_methods_policy(
    emulator: Emulator, bot: BotState, http: httpx.AsyncClient
) -> None:
    # A method that only returns True is a harmless no-op; one returning an object is refused with 501.
    status, body = await call(http, emulator, bot.token, "setMyDescription", json={"description": "hi"})
    assert (status, body["result"]) == (200, True)
    status, body = await call(http, emulator, bot.token, "getChat", json={"chat_id": 1})
    assert status == 501 and "not emulated" in body["description"]
    assert emulator.stats()["unimplemented_calls"] == {"setMyDescription": 1, "getChat": 1}
    status, body = await call(http, emulator, bot.token, "setMyCommands", json={})
    assert (status, body["description"]) == (400, "Bad Request: commands is required")


async def test_commands_per_scope_and_language(emulator: Emulator, bot: BotState) -> None:
    from telegram import BotCommand, BotCommandScopeAllPrivateChats

    async with ptb_bot(emulator, bot.token) as tg:
        await tg.set_my_commands([BotCommand("report", "Report a student")])
        await tg.set_my_commands([BotCommand("report", "报告学生")], language_code="zh")
        await tg.set_my_commands([BotCommand("cases", "My cases")], scope=BotCommandScopeAllPrivateChats())
        assert [c.description for c in await tg.get_my_commands()] == ["Report a student"]
        assert [c.description for c in await tg.get_my_commands(language_code="zh")] == ["报告学生"]
        scoped = await tg.get_my_commands(scope=BotCommandScopeAllPrivateChats())
        assert [c.command for c in scoped] == ["cases"]
        with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
            await tg.set_my_commands([BotCommand("Bad-Command", "x")])
        assert await tg.delete_my_commands(language_code="zh")
        assert await tg.get_my_commands(language_code="zh") == ()


async def test_html_parse_mode(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    await phone.send("/start")
    async with ptb_bot(emulator, bot.token) as tg:
        sent = await tg.send_message(
            phone.user_id, "😀 <b>Zhang &amp; <i>Li</i></b> <a href='https://x.org'>x</a>", parse_mode="HTML"
        )
        assert sent.text == "😀 Zhang & Li x"
        assert [(e.type, e.offset, e.length) for e in sent.entities] == [
            ("bold", 3, 10),
            ("italic", 11, 2),
            ("text_link", 14, 1),
        ]
        assert sent.entities[2].url == "https://x.org"
        with pytest.raises(BadRequest, match='(?i)Unsupported start tag "div" at byte offset 0'):
            await tg.send_message(phone.user_id, "<div>x</div>", parse_mode="HTML")
        with pytest.raises(BadRequest, match='(?i)Can\'t find end tag corresponding to start tag "b"'):
            await tg.send_message(phone.user_id, "<b>bold", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)Unclosed start tag"):
            await tg.send_message(phone.user_id, "1 < 2", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await tg.send_message(phone.user_id, "<b></b>", parse_mode="HTML")
        plain = await tg.edit_message_text("plain now", phone.user_id, sent.message_id)
        assert isinstance(plain, Message) and plain.entities == ()
        assert (await tg.send_message(phone.user_id, "a < b", parse_mode="MarkdownV2")).text == "a < b"
