"""Settings: documented defaults, and one clear line naming a bad setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout


def test_defaults_run_embedded_without_a_token() -> None:
    s = load_settings()
    assert s.database_url.startswith("sqlite+aiosqlite:///./data/")
    assert s.token is None
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"
    assert s.telegram_file_base_url == "https://api.telegram.org/file/bot"
    assert (s.timezone, s.web_host, s.web_port) == ("Asia/Shanghai", "127.0.0.1", 8000)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db")
    s = load_settings()
    assert s.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert s.database_url == "postgresql+asyncpg://u@127.0.0.1/db"


def test_token_is_secret_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:not-a-real-token")
    s = load_settings()
    assert "not-a-real-token" not in repr(s)
    assert s.token == "42:not-a-real-token"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMEZONE", "Mars/Olympus"),
        ("WEB_PORT", "eighty"),
        ("DATABASE_URL", "mysql://x"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org"),
        ("DEFAULT_LANGUAGE", "fr"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert name in message and "\n" not in message


def test_webhook_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://example.invalid/telegram/webhook")
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        load_settings()


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z_]+)=", text, flags=re.MULTILINE))
    assert {n.upper() for n in Settings.model_fields} == documented
    lines = text.splitlines()
    for i, line in enumerate(lines):  # each group of settings has a comment right above it
        if re.match(r"^[A-Z_]+=", line):
            above = next(x for x in reversed(lines[:i]) if not re.match(r"^[A-Z_]+=", x))
            assert above.startswith("#"), line


def test_wecom_is_off_unless_corp_id_token_and_aes_key_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.wecom_enabled, s.wecom_missing) == (False, [])
    assert s.wecom_api_base_url == "https://qyapi.weixin.qq.com/cgi-bin"
    monkeypatch.setenv("WECOM_CORP_ID", "wx5823bf96d3bd56c7")
    monkeypatch.setenv("WECOM_ENCODING_AES_KEY", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    s = load_settings()
    assert (s.wecom_enabled, s.wecom_missing) == (False, ["WECOM_TOKEN"])
    monkeypatch.setenv("WECOM_TOKEN", "QDG6eK")
    monkeypatch.setenv("WECOM_SECRET", "not-a-real-secret")
    monkeypatch.setenv("WECOM_AGENT_ID", "1000002")
    s = load_settings()
    assert (s.wecom_enabled, s.wecom_missing, s.wecom_agent_id) == (True, [], 1000002)
    for secret in ("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "not-a-real-secret"):
        assert secret not in repr(s) and secret not in str(s)


@pytest.mark.parametrize(
    "key",
    [
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2",  # 42 characters
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C=",  # 44: the "=" is added by us
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2-",  # not base64
    ],
)
def test_a_malformed_wecom_aes_key_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("WECOM_ENCODING_AES_KEY", key)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "WECOM_ENCODING_AES_KEY" in message and "\n" not in message
    assert "jWmYm7qr5n" not in message


def test_the_wecom_api_base_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECOM_API_BASE_URL", "qyapi.weixin.qq.com/cgi-bin")
    with pytest.raises(SettingsError, match="WECOM_API_BASE_URL"):
        load_settings()
