"""A simulated person's phone: an async client of the emulator's control API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any, Self

import httpx

Predicate = Callable[[dict[str, Any]], bool]


class PhoneError(RuntimeError):
    """The control API refused an action (e.g. no such button)."""


class Phone:
    """One person chatting with one bot; keeps a local copy of the chat for quick assertions."""

    def __init__(
        self, url: str, bot: str | int, user: dict[str, Any], *, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.bot = str(bot)
        self.user = user
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        self._own_client = client is None
        self._messages: dict[int, dict[str, Any]] = {}
        self.chat: dict[str, Any] = {"version": 0}
        self.seen_version = 0

    @classmethod
    async def create(
        cls,
        url: str,
        bot: str | int,
        *,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> Self:
        """Create the person on the emulator (url is its root, e.g. emulator.url) and return a phone."""
        phone = cls(url, bot, {}, client=client)
        phone.user = await phone._call(
            "POST",
            "/_control/users",
            {
                "user_id": user_id,
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "language_code": language_code,
            },
        )
        return phone

    @property
    def user_id(self) -> int:
        """Return the person's user id (also their private chat id)."""
        return int(self.user["id"])

    async def close(self) -> None:
        """Close the HTTP client if the phone owns it."""
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _request(
        self, verb: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self._client.request(verb, self.url + path, json=body, params=params)
        payload = response.json()
        if not payload.get("ok"):
            raise PhoneError(payload.get("error", f"HTTP {response.status_code}"))
        return payload

    async def _call(
        self, verb: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        return (await self._request(verb, path, body, params))["result"]

    async def _act(self, action: str, body: dict[str, Any]) -> Any:
        payload = await self._request(
            "POST", f"/_control/bots/{self.bot}/chats/{self.user_id}/{action}", body
        )
        # wait_for_reply then looks only at what the bot does after this action.
        self.seen_version = int(payload.get("chat_version", self.seen_version))
        return payload["result"]

    async def send(self, text: str) -> dict[str, Any]:
        """Send a text message (commands like "/report" get bot_command entities)."""
        return await self._act("send", {"text": text})

    async def start(self, payload: str | None = None) -> dict[str, Any]:
        """Open the bot as from a t.me/<bot>?start=<payload> deep link."""
        return await self._act("start", {"payload": payload})

    async def tap(
        self, label: str, *, message_id: int | None = None, location: tuple[float, float] | None = None
    ) -> dict[str, Any]:
        """Tap an inline button (newest message first) or a reply-keyboard button by its label."""
        body: dict[str, Any] = {"label": label, "message_id": message_id}
        if location is not None:
            body["latitude"], body["longitude"] = location
        return await self._act("tap", body)

    async def press_callback(self, message_id: int, data: str) -> dict[str, Any]:
        """Send a callback query with arbitrary data, as a tampered client could."""
        return await self._act("callback", {"message_id": message_id, "data": data})

    async def redeliver(self, update_id: int) -> dict[str, Any]:
        """Have the bot receive an earlier update again, with the same update_id."""
        return await self._call("POST", f"/_control/bots/{self.bot}/redeliver", {"update_id": update_id})

    async def send_photo(
        self, data: bytes | None = None, *, width: int = 1280, height: int = 960, caption: str | None = None
    ) -> dict[str, Any]:
        """Send a photo (generated if no bytes are given); the bot sees a PhotoSize array."""
        body: dict[str, Any] = {"width": width, "height": height, "caption": caption}
        if data is not None:
            body["data_base64"] = base64.b64encode(data).decode()
        return await self._act("media/photo", body)

    async def send_document(
        self, data: bytes, file_name: str, mime_type: str | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        """Send any file (an image too) as a document."""
        return await self._act(
            "media/document",
            {
                "data_base64": base64.b64encode(data).decode(),
                "file_name": file_name,
                "mime_type": mime_type,
                "caption": caption,
            },
        )

    async def send_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        """Share a location."""
        return await self._act("media/location", {"latitude": latitude, "longitude": longitude})

    async def send_contact(
        self, phone_number: str, first_name: str, last_name: str | None = None, user_id: int | None = None
    ) -> dict[str, Any]:
        """Share a contact card."""
        return await self._act(
            "media/contact",
            {
                "phone_number": phone_number,
                "first_name": first_name,
                "last_name": last_name,
                "user_id": user_id,
            },
        )

    async def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        """Send a sticker."""
        return await self._act("media/sticker", {"emoji": emoji})

    async def send_voice(self, duration: int = 2) -> dict[str, Any]:
        """Send a voice message."""
        return await self._act("media/voice", {"duration": duration})

    async def send_video(self, duration: int = 3, width: int = 640, height: int = 360) -> dict[str, Any]:
        """Send a video."""
        return await self._act("media/video", {"duration": duration, "width": width, "height": height})

    async def edit(self, message_id: int, text: str) -> dict[str, Any]:
        """Edit one of this person's earlier text messages."""
        return await self._act("edit", {"message_id": message_id, "text": text})

    async def block(self, blocked: bool = True) -> dict[str, Any]:
        """Block (or unblock) the bot."""
        return await self._act("block", {"blocked": blocked})

    def _absorb(self, chat: dict[str, Any]) -> list[dict[str, Any]]:
        self.chat = chat
        for message in chat["messages"]:
            self._messages[message["message_id"]] = message
        return [m for m in chat["messages"] if m["from_bot"]]

    async def refresh(self) -> list[dict[str, Any]]:
        """Fetch the whole chat and return the bot's messages."""
        self._absorb(await self._call("GET", f"/_control/bots/{self.bot}/chats/{self.user_id}"))
        return self.messages

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Return the bot's messages as last fetched (current text, markup, media, history, deleted)."""
        return [m for _, m in sorted(self._messages.items()) if m["from_bot"]]

    @property
    def last_message(self) -> dict[str, Any] | None:
        """Return the newest bot message not deleted, as last fetched."""
        alive = [m for m in self.messages if not m["deleted"]]
        return alive[-1] if alive else None

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """Return the answers the bot gave to button taps, as last fetched."""
        return list(self.chat.get("callback_answers", []))

    async def wait_for_reply(
        self, predicate: Predicate | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until the bot sends or edits a message (matching predicate) after what was seen; bounded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching bot message within {timeout}s; last: {self.last_message}")
            chat = await self._call(
                "GET",
                f"/_control/bots/{self.bot}/chats/{self.user_id}",
                params={"after": self.seen_version, "timeout": min(remaining, 5.0)},
            )
            changed = self._absorb(chat)
            self.seen_version = chat["version"]
            for message in reversed(changed):
                if not message["deleted"] and (predicate is None or predicate(message)):
                    return message
