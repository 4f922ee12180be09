"""What the web adapter needs from the process, as protocols: the composition root (app.container's
Services, app.settings' Settings) satisfies them structurally, so no web module imports it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from bot.conversations.apply import InputServices, InputSettings


class WeComSettings(Protocol):
    """The 企业微信 app's settings (docs/wecom.md)."""

    @property
    def wecom_corp_id(self) -> str | None: ...

    @property
    def wecom_agent_id(self) -> int | None: ...

    @property
    def wecom_secret(self) -> SecretStr | None: ...

    @property
    def wecom_token(self) -> SecretStr | None: ...

    @property
    def wecom_encoding_aes_key(self) -> SecretStr | None: ...

    @property
    def wecom_api_base_url(self) -> str: ...

    @property
    def wecom_enabled(self) -> bool: ...

    @property
    def wecom_missing(self) -> list[str]: ...


class WebSettings(InputSettings, WeComSettings, Protocol):
    """The settings values the web app reads."""

    @property
    def media_dir(self) -> Path: ...

    @property
    def web_api_docs(self) -> bool: ...

    @property
    def web_cookie_secure(self) -> bool | None: ...

    @property
    def web_login_attempts_per_minute(self) -> int: ...

    @property
    def web_login_waiting(self) -> int: ...

    @property
    def web_export_concurrency(self) -> int: ...

    @property
    def metrics_token(self) -> SecretStr | None: ...

    @property
    def overview_snapshot_max_age(self) -> timedelta | None: ...


class WebServices(InputServices, Protocol):
    """The process-wide services of the web app: storage, time, policy, media and its settings."""

    @property
    def default_language(self) -> str: ...

    @property
    def settings(self) -> WebSettings: ...
