"""In-memory state: bots, people, private chats, messages and pending updates."""

from __future__ import annotations

import copy
import itertools
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import bad_request, forbidden
from sandbox.files import FileStore
from sandbox.notify import Notifier

# Telegram's default when allowed_updates is empty: everything but these three.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


@dataclass
class StoredMessage:
    """A message in a private chat, with its edit history."""

    data: dict[str, Any]
    from_bot: bool
    sent_markup: dict[str, Any] | None = None  # as the bot sent it, reply keyboards included
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    version: int = 0


@dataclass
class Chat:
    """The private chat between one bot and one person (chat id == user id)."""

    user: dict[str, Any]
    messages: dict[int, StoredMessage] = field(default_factory=dict)  # by message id, ascending
    # The same messages, least recently changed first: a phone's wait returns what changed since the
    # version it saw, so that costs what changed, not the whole chat (a benchmark's chats grow long).
    by_version: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    started: bool = False
    blocked: bool = False
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    chat_actions: list[dict[str, Any]] = field(default_factory=list)
    notifier: Notifier = field(default_factory=Notifier)

    @property
    def chat_object(self) -> dict[str, Any]:
        """Return the Bot API Chat object of this private chat."""
        chat = {"id": self.user["id"], "type": "private", "first_name": self.user["first_name"]}
        for key in ("last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat

    def touch(self, message: StoredMessage | None = None) -> None:
        """Mark the chat as changed (and the message, if given) so waiters wake up."""
        version = self.notifier.bump()
        if message is not None:
            message.version = version
            message_id = message.data["message_id"]
            self.by_version.pop(message_id, None)
            self.by_version[message_id] = message

    def changed_since(self, version: int) -> list[StoredMessage]:
        """The messages changed after `version`, in message id order."""
        changed = []
        for stored in reversed(self.by_version.values()):
            if stored.version <= version:
                break
            changed.append(stored)
        return sorted(changed, key=lambda m: m.data["message_id"])

    def add_message(self, sender: dict[str, Any], body: dict[str, Any], *, from_bot: bool) -> StoredMessage:
        """Append a new message and return it."""
        message_id = self.next_message_id
        self.next_message_id += 1
        data = {
            "message_id": message_id,
            "from": sender,
            "chat": self.chat_object,
            "date": int(time.time()),
            **body,
        }
        stored = StoredMessage(data=data, from_bot=from_bot)
        self.messages[message_id] = stored
        self.touch(stored)
        return stored


@dataclass
class BotState:
    """One bot hosted by the emulator: identity, chats, update queue, webhook and commands."""

    token: str
    user: dict[str, Any]
    chats: dict[int, Chat] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    # Recent updates, so a test can have one delivered again as Telegram does when a confirmation is lost.
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=2000))
    redelivered: set[int] = field(default_factory=set)
    next_update_id: int = 1
    allowed_updates: list[str] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    last_webhook_error: tuple[int, str] | None = None
    # Webhook requests sent per update_id, and the updates whose request is open right now (drills).
    webhook_posts: Counter[int] = field(default_factory=Counter)
    webhook_in_flight: set[int] = field(default_factory=set)
    commands: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    callback_queries: dict[str, tuple[int, int]] = field(default_factory=dict)
    updates_notifier: Notifier = field(default_factory=Notifier)
    poll_generation: int = 0

    @property
    def id(self) -> int:
        """Return the bot's user id."""
        return int(self.user["id"])

    @property
    def username(self) -> str:
        """Return the bot's username."""
        return str(self.user["username"])

    def wants(self, update_type: str) -> bool:
        """Return whether allowed_updates lets this kind of update through."""
        if not self.allowed_updates:
            return update_type not in _OPT_IN_UPDATES
        return update_type in self.allowed_updates

    def push_update(self, update_type: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update (ids strictly increase per bot); drop it if allowed_updates excludes it."""
        if not self.wants(update_type):
            return None
        update = {"update_id": self.next_update_id, update_type: copy.deepcopy(payload)}
        self.next_update_id += 1
        self.pending.append(update)
        self.history.append(update)
        self.updates_notifier.bump()
        return update

    def redeliver(self, update_id: int) -> dict[str, Any]:
        """Queue an already delivered update again, same id (at-least-once delivery)."""
        for update in self.history:
            if update["update_id"] == update_id:
                self.pending.append(copy.deepcopy(update))
                self.redelivered.add(update_id)
                self.updates_notifier.bump()
                return update
        raise KeyError(f"update {update_id} is not in the recent history")

    def chat_for_bot(self, chat_id: Any) -> Chat:
        """Return the chat a bot method targets, with Telegram's errors for unknown or closed chats."""
        if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
            raise bad_request("chat not found")  # @usernames only resolve for groups and channels
        chat = self.chats.get(int(chat_id))
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        if not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        return chat


class Registry:
    """All bots, all people and all files of one emulator."""

    def __init__(self) -> None:
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.files = FileStore()
        self._user_ids = itertools.count(700001)

    def bot_by_token(self, token: str) -> BotState | None:
        """Return the bot owning a token."""
        return self.bots.get(token)

    def find_bot(self, key: str | int) -> BotState:
        """Return a bot by id, username (with or without @) or token; KeyError if unknown."""
        text = str(key).lstrip("@")
        for bot in self.bots.values():
            if text in (str(bot.id), bot.username, bot.token):
                return bot
        raise KeyError(f"unknown bot {key!r}")

    def add_user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Create (or update) a person and return their Bot API User object."""
        if user_id is None:
            user_id = next(self._user_ids)
            while user_id in self.users:
                user_id = next(self._user_ids)
        user: dict[str, Any] = {"id": int(user_id), "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[int(user_id)] = user
        return user

    def chat(self, bot: BotState, user_id: int) -> Chat:
        """Return (creating if needed) the private chat between a bot and a known person."""
        user = self.users.get(int(user_id))
        if user is None:
            raise KeyError(f"unknown user {user_id}")
        chat = bot.chats.get(user["id"])
        if chat is None:
            chat = bot.chats[user["id"]] = Chat(user=user)
        return chat
