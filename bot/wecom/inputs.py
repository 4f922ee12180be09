"""A member's stored WeCom message as a conversation input: text (a command with or without its slash),
photos, locations (message or event) and card taps, whose keys decode as Telegram's callback data does."""

from __future__ import annotations

from bot.conversations.catalogue import COMMON_COMMANDS, FORMS
from bot.conversations.keys import decode_key
from bot.conversations.model import Command, Input, Location, Numbered, Photo, Text, Unsupported
from bot.wecom import inbound

# Command words a member may type without the slash (WeCom has no command menu): the whole message.
COMMAND_WORDS = frozenset([f.name for f in FORMS] + list(COMMON_COMMANDS) + ["start"])
TYPED_KEY = "kb:"  # a card button that stands for typing its label (Telegram's reply-keyboard keys)
MAX_NUMBER_DIGITS = 3  # a typed choice number; longer digit strings stay text (e.g. a 学籍号 tail searched)


def without_nul(text: str) -> str:
    """PostgreSQL cannot store NUL in text, and nobody means to type one."""
    return text.replace("\x00", "")


def command_in(text: str) -> Command | None:
    """`/report`, `/start CODE`, or a bare command word such as `report`; None for other text."""
    stripped = text.strip()
    if stripped.startswith("/"):
        head, *rest = stripped[1:].split() or [""]
        return Command(head.lower(), tuple(rest))
    if stripped.lower() in COMMAND_WORDS:
        return Command(stripped.lower())
    return None


def typed(text: str) -> Text:
    """Text; a bare number (full-width digits too, as a Chinese keyboard may type them) is Numbered: the
    cards number a list's choices, and typing the number is quicker than scrolling to its button."""
    stripped = text.strip()
    if stripped.isdecimal() and len(stripped) <= MAX_NUMBER_DIGITS:
        return Numbered(str(int(stripped)))
    return Text(text)


def to_input(message: inbound.Inbound) -> Input | None:
    """The conversation input of a stored message; None for what asks for no answer (entering the app,
    other events)."""
    match message:
        case inbound.Text(content=content):
            text = without_nul(content)
            return command_in(text) or typed(text)
        case inbound.Image(media_id=media_id):
            # WeCom gives no size or type before the download; the photo pipeline checks the bytes.
            return Photo(media_id, media_id, None, "image/jpeg")
        case inbound.Location(lat=lat, lon=lon):
            return Location(lat, lon)
        case inbound.CardTap(event_key=key):
            key = without_nul(key)
            if key.startswith(TYPED_KEY):
                return Text(key.removeprefix(TYPED_KEY))
            return decode_key(key)
        case inbound.Unsupported(msg_type=msg_type):
            return Unsupported("document" if msg_type == "file" else msg_type)
    return None
