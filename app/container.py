"""Wires settings to the engine, units of work, policy and clock: built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings, SettingsError
from bot.limits import BURST, SendLimiter
from domain.calendar.school import CalendarError
from domain.clock import Clock, SystemClock
from domain.policy import Policy, PolicyError, load_policy
from storage.db import make_engine, make_sessionmaker
from storage.media import LocalMediaStore
from storage.uow import UnitOfWorkFactory


@dataclass
class Services:
    """What handlers, routes and jobs need; passed explicitly, never imported as globals."""

    settings: Settings
    engine: AsyncEngine
    uow: UnitOfWorkFactory
    policy: Policy
    clock: Clock
    # Telegram's budget, for the bot's replies and the reminders alike (build_services shares it on PostgreSQL)
    send_limiter: SendLimiter = field(default_factory=SendLimiter)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    @property
    def default_language(self) -> str:
        """DEFAULT_LANGUAGE: the last step of domain.people.language for anyone who chose none."""
        return self.settings.default_language

    @property
    def media(self) -> LocalMediaStore:
        """Photo bytes by SHA-256, under MEDIA_DIR (cheap to build: it holds only the path)."""
        return LocalMediaStore(self.settings.media_dir)

    async def close(self) -> None:
        await self.engine.dispose()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Creates the engine and loads the policy and calendar files; a bad one stops start-up with one line."""
    try:
        policy = load_policy(settings.policy_file, settings.calendar_file)
    except PolicyError as exc:
        raise SettingsError(f"Invalid setting POLICY_FILE: {exc}") from None
    except CalendarError as exc:
        raise SettingsError(f"Invalid setting CALENDAR_FILE: {exc}") from None
    engine = make_engine(settings.database_url)
    r = policy.reminders
    # Several processes share one bot only on PostgreSQL; there they share its budget too (bot.limits).
    shared = engine if engine.dialect.name == "postgresql" else None
    return Services(
        settings=settings,
        engine=engine,
        uow=UnitOfWorkFactory(make_sessionmaker(engine)),
        policy=policy,
        clock=clock or SystemClock(),
        send_limiter=SendLimiter(
            r.messages_per_second, BURST, r.per_chat_interval.total_seconds(), shared=shared
        ),
    )
