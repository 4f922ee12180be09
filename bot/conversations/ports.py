"""What the forms need from outside, as small protocols: drafts for the engine, services for the steps.

`storage.repositories.DraftRepository` and `app.container.Services` satisfy them structurally; the
engine's unit tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from domain.policy import Policy
    from storage.media import MediaStore


class Draft(Protocol):
    """A form in progress (or, once submitted, its receipt), as the engine reads it."""

    @property
    def staff_id(self) -> int: ...

    @property
    def form(self) -> str: ...

    @property
    def step(self) -> str: ...

    @property
    def answers(self) -> dict[str, Any]: ...

    @property
    def seq(self) -> int:
        """Bumped on every save: buttons carry it, so a stale or double-tapped button is recognised."""
        ...

    @property
    def receipt(self) -> dict[str, Any] | None:
        """A submitted form's {"text", "case", "delivered"}; None while the form is in progress."""
        ...


class Drafts(Protocol):
    """One draft per conversation (an int a channel gives), written in the caller's transaction."""

    async def get(self, conversation: int) -> Draft | None:
        """The form in progress (a receipt is none)."""
        ...

    async def start(
        self,
        conversation: int,
        *,
        staff_id: int,
        form: str,
        step: str,
        answers: dict[str, Any],
        now: datetime,
    ) -> Draft:
        """A new form; what the conversation held before must be deleted or cleared first."""
        ...

    async def save(self, conversation: int, *, step: str, answers: dict[str, Any], now: datetime) -> int:
        """Stores the form's step and answers; returns the draft's new seq."""
        ...

    async def submit(self, conversation: int, *, receipt: dict[str, Any], now: datetime) -> None:
        """The form was submitted: its answers go, the row stays a few days as its receipt."""
        ...

    async def delete(self, conversation: int) -> None:
        """Drops the form in progress, if there is one."""
        ...

    async def receipt(self, conversation: int, since: datetime) -> Draft | None:
        """The last submitted form, if it was submitted at or after `since`."""
        ...

    async def clear_receipt(self, conversation: int) -> None:
        """Makes way for a new form."""
        ...

    async def mark_delivered(self, conversation: int) -> None:
        """The submitted form's confirmation reached the person."""
        ...


class FormSettings(Protocol):
    """The settings values the forms read."""

    @property
    def show_full_student_names(self) -> bool: ...


class FormServices(Protocol):
    """The process-wide services a step may use (the composition root's `Services` is one)."""

    @property
    def tz(self) -> ZoneInfo: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def media(self) -> MediaStore:
        """Photo bytes by SHA-256."""
        ...

    @property
    def settings(self) -> FormSettings: ...
