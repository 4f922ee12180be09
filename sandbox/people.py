"""What simulated people do: write to a bot, tap buttons, share things, edit, block; and read the chat."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterable
from typing import Any

from sandbox import media
from sandbox.markup import command_entities, find_inline_button, find_reply_button
from sandbox.state import BotState, Chat, Registry, StoredMessage


class ActionError(ValueError):
    """A person tried something Telegram's app would not allow (e.g. tapping a missing button)."""


class People:
    """In-process operations behind the control API and the simulator."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def create_user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Create or update a person; returns the Bot API User."""
        return dict(self.registry.add_user(user_id, first_name, last_name, username, language_code))

    def _open(self, bot_key: str | int, user_id: int) -> tuple[BotState, Chat]:
        bot = self.registry.find_bot(bot_key)
        return bot, self.registry.chat(bot, user_id)

    def _post(self, bot: BotState, chat: Chat, body: dict[str, Any]) -> dict[str, Any]:
        # Writing to a bot starts the chat (like pressing START), so the bot may answer from now on.
        chat.started = True
        stored = chat.add_message(dict(chat.user), body, from_bot=False)
        bot.push_update("message", stored.data)
        return copy.deepcopy(stored.data)

    def send_text(self, bot_key: str | int, user_id: int, text: str) -> dict[str, Any]:
        """Send a text message; /commands get bot_command entities (UTF-16 offsets)."""
        bot, chat = self._open(bot_key, user_id)
        body: dict[str, Any] = {"text": text}
        entities = command_entities(text)
        if entities:
            body["entities"] = entities
        return self._post(bot, chat, body)

    def start(self, bot_key: str | int, user_id: int, payload: str | None = None) -> dict[str, Any]:
        """Open the bot through a t.me deep link: sends "/start" or "/start <payload>"."""
        return self.send_text(bot_key, user_id, f"/start {payload}" if payload else "/start")

    def send_media(self, bot_key: str | int, user_id: int, kind: str, /, **options: Any) -> dict[str, Any]:
        """Send a photo, document, location, contact, sticker, voice or video (see sandbox.media)."""
        bot, chat = self._open(bot_key, user_id)
        files = self.registry.files
        builders = {
            "photo": lambda: media.photo_body(files, **options),
            "document": lambda: media.document_body(files, **options),
            "location": lambda: media.location_body(**options),
            "contact": lambda: media.contact_body(**options),
            "sticker": lambda: media.sticker_body(files, **options),
            "voice": lambda: media.voice_body(files, **options),
            "video": lambda: media.video_body(files, **options),
        }
        if kind not in builders:
            raise ActionError(f"unknown media kind {kind!r}")
        return self._post(bot, chat, builders[kind]())

    def tap(
        self,
        bot_key: str | int,
        user_id: int,
        label: str,
        *,
        message_id: int | None = None,
        location: tuple[float, float] = (39.9042, 116.4074),
    ) -> dict[str, Any]:
        """Tap a button by label: inline buttons (newest message first, old ones work too), then the
        reply keyboard. Returns {"callback_query": ...} or {"message": ...}."""
        bot, chat = self._open(bot_key, user_id)
        candidates: Iterable[StoredMessage] = (
            [chat.messages[message_id]] if message_id is not None else reversed(chat.messages.values())
        )
        for stored in candidates:
            if stored.deleted or not stored.from_bot:
                continue
            button = find_inline_button(stored.data.get("reply_markup"), label)
            if button is not None:
                return {"callback_query": self._press_inline(bot, chat, stored, button)}
        button = find_reply_button(chat.reply_keyboard, label) if message_id is None else None
        if button is None:
            raise ActionError(f"no button labelled {label!r} in this chat")
        if button.get("request_location"):
            return {"message": self._post(bot, chat, media.location_body(*location))}
        if button.get("request_contact"):
            user = chat.user
            return {
                "message": self._post(
                    bot,
                    chat,
                    media.contact_body(
                        f"+999{user['id']}", user["first_name"], user.get("last_name"), user["id"]
                    ),
                )
            }
        return {"message": self.send_text(bot.id, user_id, label)}

    def _press_inline(
        self, bot: BotState, chat: Chat, stored: StoredMessage, button: dict[str, Any]
    ) -> dict[str, Any]:
        if "callback_data" not in button:
            raise ActionError(f"button {button['text']!r} is not a callback button (it opens something)")
        query_id = str(secrets.randbits(63))
        query = {
            "id": query_id,
            "from": dict(chat.user),
            "message": copy.deepcopy(stored.data),
            "chat_instance": str(bot.id * 7919 + chat.user["id"]),
            "data": button["callback_data"],
        }
        bot.callback_queries[query_id] = (chat.user["id"], stored.data["message_id"])
        bot.push_update("callback_query", query)
        return query

    def press_callback(self, bot_key: str | int, user_id: int, message_id: int, data: str) -> dict[str, Any]:
        """A tampered client: a callback query with arbitrary data on one of the bot's messages."""
        bot, chat = self._open(bot_key, user_id)
        stored = chat.messages.get(message_id)
        if stored is None or not stored.from_bot:
            raise ActionError("no bot message with that id in this chat")
        return self._press_inline(bot, chat, stored, {"text": "(forged)", "callback_data": data})

    def redeliver(self, bot_key: str | int, update_id: int) -> dict[str, Any]:
        """Deliver an earlier update again with the same update_id."""
        try:
            return self.registry.find_bot(bot_key).redeliver(update_id)
        except KeyError as exc:
            raise ActionError(str(exc)) from None

    def edit_message(self, bot_key: str | int, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        """Edit one of the person's own text messages; the bot gets an edited_message update."""
        bot, chat = self._open(bot_key, user_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.from_bot or stored.deleted or "text" not in stored.data:
            raise ActionError("only your own text messages can be edited")
        stored.history.append(
            {"text": stored.data["text"], "date": stored.data.get("edit_date", stored.data["date"])}
        )
        stored.data["text"] = text
        stored.data["entities"] = command_entities(text)
        if not stored.data["entities"]:
            stored.data.pop("entities")
        stored.data["edit_date"] = int(time.time())
        chat.touch(stored)
        bot.push_update("edited_message", stored.data)
        return copy.deepcopy(stored.data)

    def set_blocked(self, bot_key: str | int, user_id: int, blocked: bool = True) -> dict[str, Any]:
        """Block or unblock the bot; the bot gets a my_chat_member update like in Telegram."""
        bot, chat = self._open(bot_key, user_id)
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot_user = {k: bot.user[k] for k in ("id", "is_bot", "first_name", "username")}
        update = {
            "chat": chat.chat_object,
            "from": dict(chat.user),
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot_user},
            "new_chat_member": {"status": new, "user": bot_user, **({"until_date": 0} if blocked else {})},
        }
        bot.push_update("my_chat_member", update)
        chat.touch()
        return {"blocked": blocked}

    def transcript(self, bot_key: str | int, user_id: int, after: int = 0) -> dict[str, Any]:
        """Return the chat: messages changed after version `after` (both sides), keyboard and answers."""
        _, chat = self._open(bot_key, user_id)
        return chat_view(chat, after)

    async def wait(self, bot_key: str | int, user_id: int, after: int, timeout: float) -> dict[str, Any]:
        """Wait (bounded) until the chat changes past version `after`, then return the transcript."""
        _, chat = self._open(bot_key, user_id)
        await chat.notifier.wait_beyond(after, min(max(timeout, 0.0), 60.0))
        return chat_view(chat, after)


def chat_view(chat: Chat, after: int = 0) -> dict[str, Any]:
    """Serialise a chat for phones and the simulator."""
    messages = []
    for stored in chat.changed_since(after):
        entry = {k: copy.deepcopy(v) for k, v in stored.data.items() if k not in ("from", "chat")}
        entry.update(
            from_bot=stored.from_bot,
            deleted=stored.deleted,
            version=stored.version,
            history=copy.deepcopy(stored.history),
        )
        if stored.from_bot:
            entry["reply_markup"] = copy.deepcopy(stored.sent_markup)
        messages.append(entry)
    return {
        "version": chat.notifier.version,
        "user": dict(chat.user),
        "started": chat.started,
        "blocked": chat.blocked,
        "messages": messages,
        "reply_keyboard": copy.deepcopy(chat.reply_keyboard),
        "callback_answers": copy.deepcopy(chat.callback_answers),
        "chat_actions": copy.deepcopy(chat.chat_actions[-20:]),
    }
