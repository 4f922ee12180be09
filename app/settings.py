"""Every setting of a deployment, typed, read from the environment and `.env`."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.wecom.crypto import parse_encoding_aes_key

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/notoneless.db"


class SettingsError(SystemExit):
    """Start-up stops with one clear line naming the bad setting."""


class Settings(BaseSettings):
    """Deployment settings; see `.env.example` for what each one means."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_bot_username: str | None = None
    demo_bot_username: str = "NotOneLessDemoBot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_register: bool = True
    timezone: str = "Asia/Shanghai"
    media_dir: Path = Path("./data/media")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    web_cookie_secure: bool | None = None
    # POST /login per client address and worker (web.login_throttle), and logins that may queue for
    # a password check in one worker before the rest are answered 429.
    web_login_attempts_per_minute: int = Field(default=10, ge=1)
    web_login_waiting: int = Field(default=8, ge=0)
    default_language: str = "zh_CN"
    show_full_student_names: bool = False
    invite_ttl_hours: int = Field(default=72, ge=1)
    api_token_ttl_days: int = Field(default=90, ge=1, le=3650)
    policy_file: Path | None = None
    # The county's school calendar (holidays, 调休, terms), extending the shipped one (docs/calendar.md).
    calendar_file: Path | None = None
    log_level: str = "INFO"
    # /metrics answers loopback clients only, unless this token is set: then it needs
    # `Authorization: Bearer <token>` from any address (docs/deploy.md, Metrics).
    metrics_token: SecretStr | None = None
    # `notoneless scheduler` serves its own counters (reminders sent, 429s) on 127.0.0.1:PORT (0: off).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    log_format: str = "text"  # text | json (one object per line, for log collectors)
    # The demo: built-in Bot API emulator and /simulator, fictional data only, loopback only (app.demo_mode).
    demo: bool = False
    # Overview snapshots of large areas (domain.reports.overview_snapshots): refreshed by the scheduler every
    # this many seconds (0: never, every overview is counted live) for scopes above this many cases.
    overview_refresh_seconds: int = Field(default=300, ge=0)
    overview_live_max_cases: int = Field(default=20_000, ge=0)
    # Swagger UI (/docs) and ReDoc (/redoc) load their scripts from a public CDN: off unless asked for.
    web_api_docs: bool = False
    # Spreadsheet exports running at once in one web process (each .xlsx export is a writer process);
    # one person has at most one at a time either way.
    web_export_concurrency: int = Field(default=2, ge=1, le=64)
    # 企业微信 (WeCom) self-built app (docs/wecom.md): off unless corp id, token and AES key are all set.
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = Field(default=None, ge=0)
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_encoding_aes_key: SecretStr | None = None
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://", "sqlite://")
        ):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        # Accept the plain schemes people copy from docs; the async drivers are what we run.
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            value = "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
        return value

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("zh_CN", "en"):
            raise ValueError("must be zh_CN or en")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("must be text or json")
        return value

    @field_validator("wecom_encoding_aes_key")
    @classmethod
    def _wecom_aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_encoding_aes_key(value.get_secret_value())  # its ValueError never quotes the key
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url", "wecom_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_WEBHOOK_URL is set")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def token(self) -> str | None:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None

    @property
    def overview_snapshot_max_age(self) -> timedelta | None:
        """How old a snapshot may be and still be shown: two missed refreshes and a minute, then live."""
        if not self.overview_refresh_seconds:
            return None
        return timedelta(seconds=2 * self.overview_refresh_seconds + 60)

    @property
    def wecom_enabled(self) -> bool:
        """WeCom's callback is served only when all three of its receiving settings are there."""
        return not self.wecom_missing and self.wecom_corp_id is not None

    @property
    def wecom_missing(self) -> list[str]:
        """The receiving settings still missing once any of them is set (for a start-up warning)."""
        given = {
            "WECOM_CORP_ID": self.wecom_corp_id,
            "WECOM_TOKEN": self.wecom_token,
            "WECOM_ENCODING_AES_KEY": self.wecom_encoding_aes_key,
        }
        if not any(given.values()):
            return []
        return [name for name, value in given.items() if not value]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Builds settings, turning a validation error into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "setting"
        raise SettingsError(f"Invalid setting {name}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, built on first use (never at import time)."""
    return load_settings()
