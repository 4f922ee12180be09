"""Wires settings to the engine, units of work, policy and clock: built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings, SettingsError
from bot.limits import BURST, SendLimiter
from bot.wecom import messenger as wecom_messenger
from bot.wecom.api import App, WeComClient
from bot.wecom.tokens import DatabaseTokenStore
from domain.calendar.school import CalendarError
from domain.clock import Clock, SystemClock
from domain.policy import Policy, PolicyError, load_policy
from storage.db import make_autocommit_engine, make_engine, make_sessionmaker
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
    # WeCom's budget for this process (bot.wecom.messenger: per member and for the app)
    wecom_limiter: SendLimiter = field(default_factory=wecom_messenger.default_limiter)
    # PostgreSQL: writes that are one statement, without a transaction (storage.db.make_autocommit_engine)
    autocommit: AsyncEngine | None = None

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

    def wecom_client(self) -> WeComClient | None:
        """A client of WeCom's API when WeCom is configured and the app can send (WECOM_AGENT_ID and
        WECOM_SECRET besides the receiving settings); the caller closes it."""
        s = self.settings
        if not s.wecom_enabled or s.wecom_agent_id is None or s.wecom_secret is None:
            return None
        assert s.wecom_corp_id is not None
        app = App(s.wecom_corp_id, s.wecom_agent_id, s.wecom_secret.get_secret_value())
        return WeComClient(
            app, base_url=s.wecom_api_base_url, tokens=DatabaseTokenStore(self.uow), clock=self.clock
        )

    async def close(self) -> None:
        await self.engine.dispose()
        if self.autocommit is not None:
            await self.autocommit.dispose()


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
        autocommit=make_autocommit_engine(settings.database_url),
    )
