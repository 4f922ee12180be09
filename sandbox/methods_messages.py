"""Bot API methods that send, edit and delete messages in private chats."""

from __future__ import annotations

import copy
import mimetypes
import time
from typing import TYPE_CHECKING, Any

from sandbox.dispatch import method
from sandbox.errors import bad_request
from sandbox.html_text import parse_html
from sandbox.markup import check_text, parse_markup
from sandbox.validation import Upload

if TYPE_CHECKING:
    from sandbox.emulator import Emulator
    from sandbox.state import BotState, Chat, StoredMessage

CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}


def formatted(params: dict[str, Any], key: str) -> dict[str, Any]:
    """Return {key: text, key-entities: [...]} for a text or caption, applying parse_mode=HTML."""
    text = params[key]
    entities = params.get("entities" if key == "text" else "caption_entities")
    if str(params.get("parse_mode", "")).lower() == "html":
        text, entities = parse_html(text)
    # Markdown and MarkdownV2 are accepted but not parsed: the text is stored as sent.
    check_text(text, caption=key == "caption")
    result: dict[str, Any] = {key: text}
    if entities:
        result["entities" if key == "text" else "caption_entities"] = entities
    return result


def _deliver(bot: BotState, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Store a bot message in its chat (keyboards, replies) and return the Bot API Message."""
    chat = bot.chat_for_bot(params["chat_id"])
    kind, markup = parse_markup(params.get("reply_markup"))
    if "caption" in params:
        body.update(formatted(params, "caption"))
    reply_to = _reply_target(chat, params)
    if reply_to is not None:
        body["reply_to_message"] = copy.deepcopy(reply_to.data)
        body["reply_to_message"].pop("reply_to_message", None)
    if kind == "inline":
        body["reply_markup"] = markup
    stored = chat.add_message(_bot_sender(bot), body, from_bot=True)
    stored.sent_markup = markup
    if kind == "reply":
        chat.reply_keyboard = markup
    elif kind == "remove":
        chat.reply_keyboard = None
    chat.touch(stored)
    return copy.deepcopy(stored.data)


def _bot_sender(bot: BotState) -> dict[str, Any]:
    return {key: bot.user[key] for key in ("id", "is_bot", "first_name", "username")}


def _reply_target(chat: Chat, params: dict[str, Any]) -> StoredMessage | None:
    reply = params.get("reply_parameters") or {}
    target_id = reply.get("message_id", params.get("reply_to_message_id"))
    if target_id is None:
        return None
    target = chat.messages.get(int(target_id))
    if target is None or target.deleted:
        if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return target


@method("sendMessage")
async def send_message(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Send a text message."""
    return _deliver(bot, params, formatted(params, "text"))


@method("sendPhoto")
async def send_photo(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Send a photo, uploaded or by file_id; uploads get several JPEG sizes."""
    bot.chat_for_bot(params["chat_id"])
    photo = params["photo"]
    if isinstance(photo, Upload):
        sizes = emu.registry.files.add_photo(photo.data)
    else:
        sizes = emu.registry.files.photo_sizes(_file_id(photo))
    return _deliver(bot, params, {"photo": sizes})


@method("sendDocument")
async def send_document(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Send a general file, uploaded or by file_id."""
    bot.chat_for_bot(params["chat_id"])
    document = params["document"]
    files = emu.registry.files
    if isinstance(document, Upload):
        name = document.filename or "document"
        mime = document.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored = files.add(document.data, "document", file_name=name, mime_type=mime)
    else:
        stored = files.require(_file_id(document))
    info = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(stored.data)}
    if stored.file_name:
        info["file_name"] = stored.file_name
    if stored.mime_type:
        info["mime_type"] = stored.mime_type
    return _deliver(bot, params, {"document": info})


def _file_id(value: str) -> str:
    if value.startswith(("http://", "https://")):
        # The sandbox never fetches from the network; Telegram would download the URL here.
        raise bad_request("failed to get HTTP URL content (the sandbox does not fetch URLs)")
    return value


@method("sendLocation")
async def send_location(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Send a point on the map."""
    latitude, longitude = params["latitude"], params["longitude"]
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong location")  # wording approximated
    location = {"latitude": latitude, "longitude": longitude}
    if params.get("horizontal_accuracy"):
        location["horizontal_accuracy"] = params["horizontal_accuracy"]
    return _deliver(bot, params, {"location": location})


def _editable(bot: BotState, params: dict[str, Any]) -> tuple[Chat, StoredMessage]:
    if params.get("inline_message_id"):
        raise bad_request("message to edit not found")  # inline messages are not emulated
    if params.get("chat_id") is None:
        raise bad_request("chat_id is empty")
    if params.get("message_id") is None:
        raise bad_request("message identifier is not specified")
    chat = bot.chat_for_bot(params["chat_id"])
    stored = chat.messages.get(int(params["message_id"]))
    if stored is None or stored.deleted:
        raise bad_request("message to edit not found")
    if not stored.from_bot:
        raise bad_request("message can't be edited")
    return chat, stored


def _inline_only(params: dict[str, Any]) -> dict[str, Any] | None:
    kind, markup = parse_markup(params.get("reply_markup"))
    if kind not in (None, "inline"):
        raise bad_request("inline keyboard expected")  # wording approximated
    return markup


def _apply_edit(
    chat: Chat, stored: StoredMessage, changes: dict[str, Any], markup: dict[str, Any] | None
) -> dict[str, Any]:
    data = stored.data
    if all(data.get(k) == v for k, v in changes.items()) and data.get("reply_markup") == markup:
        raise bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    stored.history.append(
        {key: copy.deepcopy(data.get(key)) for key in (*changes, "reply_markup")}
        | {"date": data.get("edit_date", data["date"])}
    )
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        data.pop(key)  # e.g. entities of the old text
    if markup is None:
        data.pop("reply_markup", None)  # Telegram drops the inline keyboard when an edit omits it
    else:
        data["reply_markup"] = markup
    stored.sent_markup = markup
    data["edit_date"] = max(int(time.time()), data["date"])
    chat.touch(stored)
    return copy.deepcopy(data)


@method("editMessageText")
async def edit_message_text(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Edit the text (and inline keyboard) of a bot message."""
    chat, stored = _editable(bot, params)
    changes = formatted(params, "text")
    if "text" not in stored.data:
        raise bad_request("there is no text in the message to edit")
    changes.setdefault("entities", None)
    return _apply_edit(chat, stored, changes, _inline_only(params))


@method("editMessageCaption")
async def edit_message_caption(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Edit the caption (and inline keyboard) of a bot media message."""
    chat, stored = _editable(bot, params)
    changes = formatted({**params, "caption": params.get("caption", "")}, "caption")
    if "text" in stored.data:
        raise bad_request("there is no caption in the message to edit")
    changes.setdefault("caption_entities", None)
    return _apply_edit(chat, stored, changes, _inline_only(params))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(emu: Emulator, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
    """Replace or remove the inline keyboard of a bot message."""
    chat, stored = _editable(bot, params)
    return _apply_edit(chat, stored, {}, _inline_only(params))


@method("deleteMessage")
async def delete_message(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Delete a message of the private chat (either side's, as Telegram allows bots there)."""
    chat = bot.chat_for_bot(params["chat_id"])
    stored = chat.messages.get(params["message_id"])
    if stored is None or stored.deleted:
        raise bad_request("message to delete not found")
    stored.deleted = True
    chat.touch(stored)
    return True


@method("sendChatAction")
async def send_chat_action(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Record a chat action such as "typing"."""
    chat = bot.chat_for_bot(params["chat_id"])
    if params["action"] not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.chat_actions.append({"action": params["action"], "date": int(time.time())})
    chat.touch()
    return True


@method("answerCallbackQuery")
async def answer_callback_query(emu: Emulator, bot: BotState, params: dict[str, Any]) -> bool:
    """Answer a button tap; the answer is visible to the person's phone."""
    origin = bot.callback_queries.pop(params["callback_query_id"], None)
    if origin is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    user_id, message_id = origin
    chat = bot.chats[user_id]
    answer: dict[str, Any] = {
        key: params[key] for key in ("text", "show_alert", "url", "cache_time") if key in params
    }
    chat.callback_answers.append(
        {"callback_query_id": params["callback_query_id"], "message_id": message_id, **answer}
    )
    chat.touch()
    return True
