"""What a conversation exchanges, independent of any chat channel: prompts out, inputs in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from i18n import t

if TYPE_CHECKING:
    from bot.conversations.ports import Drafts, FormServices
    from domain.audit import Actor
    from storage.models import Staff
    from storage.scope import Scope
    from storage.uow import UnitOfWork

Answers = dict[str, Any]


@dataclass(frozen=True)
class Choice:
    """A button: `value` is opaque (an id or a code, never a name); `label` is already translated."""

    value: str
    label: str


@dataclass
class Prompt:
    text: str
    buttons: list[list[Choice]] = field(default_factory=list)
    request_location: str | None = None  # label of a "share my location" button
    extra_keys: list[str] = field(default_factory=list)  # reply-keyboard labels shown with it
    remove_keyboard: bool = False  # clear a reply keyboard left by an earlier step


@dataclass(frozen=True)
class Submitted:
    """What a form's submit saved: the confirmation to show, and the case it went to (if one)."""

    text: str
    case_number: str | None = None


# Inputs a channel hands to the conversation engine.
@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Numbered(Text):
    """A bare number typed where the channel numbers a step's choices (WeCom's cards): on a choice step
    the n-th choice shown; everywhere else (free text, dates, invite codes, searches) the text it is."""

    @property
    def number(self) -> int:
        return int(self.text)


@dataclass(frozen=True)
class Tap:
    seq: int
    value: str


@dataclass(frozen=True)
class Photo:
    file_id: str
    file_unique_id: str
    file_size: int | None
    mime_type: str | None = None
    as_document: bool = False


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Unsupported:
    kind: str  # sticker, voice, video, contact, document, …


Input = Command | Text | Tap | Photo | Location | Unsupported


class Reask(Exception):
    """The answer was not accepted: tell the user why (catalog key) and ask the same step again."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class Redisplay(Exception):
    """Show the same step again without an error (a page turn, a search, a toggled option)."""


@dataclass
class FormContext:
    """Everything a step may use while handling one input, inside one unit of work."""

    uow: UnitOfWork
    services: FormServices
    staff: Staff
    scope: Scope
    actor: Actor
    language: str
    now: datetime
    fetch_media: Callable[[Photo], Awaitable[bytes]] | None = None  # supplied by the channel

    @property
    def tz(self) -> ZoneInfo:
        return self.services.tz

    @property
    def drafts(self) -> Drafts:
        """The engine's port to the drafts, in this unit of work."""
        return self.uow.drafts

    def t(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)
