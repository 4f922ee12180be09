"""What the chat adapters need from the process, as protocols: the composition root (app.container's
Services) satisfies them structurally, so no adapter imports it."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversations.ports import FormServices, FormSettings
from bot.limits import SendLimiter
from domain.clock import Clock
from storage.uow import UnitOfWorkFactory


class BotSettings(FormSettings, Protocol):
    """The settings values the adapters read."""

    @property
    def default_language(self) -> str: ...


class BotServices(FormServices, Protocol):
    """The process-wide services of a chat adapter: storage, time, policy, media and the send budget."""

    @property
    def uow(self) -> UnitOfWorkFactory: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def send_limiter(self) -> SendLimiter: ...

    @property
    def autocommit(self) -> AsyncEngine | None: ...

    @property
    def default_language(self) -> str: ...

    @property
    def settings(self) -> BotSettings: ...
