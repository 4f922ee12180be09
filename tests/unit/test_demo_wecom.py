"""The demo's WeCom rules: any WeCom setting means no emulator; the callback URL is this process's own;
the in-process emulator's access lines (secrets and tokens in their query strings) stay out of the log."""

from __future__ import annotations

import logging

import pytest

from app.demo_wecom import QuietEmulator, callback_url, wecom_configured
from app.settings import Settings


def settings(**fields: object) -> Settings:
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize(
    "given",
    [{"wecom_corp_id": "ww0000000000000001"}, {"wecom_agent_id": 1000002}, {"wecom_secret": "s"}],
)
def test_any_wecom_setting_leaves_wecom_to_the_settings(given: dict[str, object]) -> None:
    assert wecom_configured(settings(**given))


def test_without_wecom_settings_the_demo_runs_the_emulator() -> None:
    assert not wecom_configured(settings(wecom_api_base_url="http://127.0.0.1:9/cgi-bin"))


def test_the_callback_url_is_this_process_own() -> None:
    assert callback_url(settings(web_port=8123)) == "http://127.0.0.1:8123/wecom/callback"
    assert callback_url(settings(web_host="::1", web_port=8123)) == "http://[::1]:8123/wecom/callback"


def access_line(path: str) -> logging.LogRecord:
    args = ("127.0.0.1:5000", "GET", path, "1.1", 200)
    return logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)


def test_the_emulator_access_lines_are_dropped_and_the_product_lines_kept() -> None:
    quiet = QuietEmulator()
    assert not quiet.filter(access_line("/cgi-bin/gettoken?corpid=ww1&corpsecret=s3cret"))
    assert not quiet.filter(access_line("/pic/media-1"))
    assert quiet.filter(access_line("/wecom/callback?msg_signature=x"))
    assert quiet.filter(access_line("/dashboard"))
