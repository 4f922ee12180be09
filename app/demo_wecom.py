"""The demo's 企业微信 (WeCom): without any WeCom settings the demo runs the WeCom emulator on 127.0.0.1
and points this process's WeCom settings at it, so /wecom/callback is served and the simulator can act
as a member. The app's corp id, secret, token and AES key are made up at every start (fictional)."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from app.container import Services
from app.settings import Settings

if TYPE_CHECKING:
    from sandbox.simulator import ListPeople
    from sandbox.wecom import WeComEmulator

DEMO_AGENT_ID = 1000002  # the first self-built app's AgentId in a new corp
EMULATOR_PATHS = ("/cgi-bin/", "/pic/")


class QuietEmulator(logging.Filter):
    """Drops the in-process WeCom emulator's access lines: one per API call, with the app's secret or
    access token in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        # uvicorn.access: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)
        return not (isinstance(args, tuple) and len(args) == 5 and str(args[2]).startswith(EMULATOR_PATHS))


def wecom_configured(settings: Settings) -> bool:
    """Whether any WeCom setting is given: then the demo leaves WeCom to them and runs no emulator."""
    given = (
        settings.wecom_corp_id,
        settings.wecom_agent_id,
        settings.wecom_secret,
        settings.wecom_token,
        settings.wecom_encoding_aes_key,
    )
    return any(value is not None for value in given)


def callback_url(settings: Settings) -> str:
    """Where the emulator's members post: this process's own /wecom/callback."""
    host = f"[{settings.web_host}]" if ":" in settings.web_host else settings.web_host
    return f"http://{host}:{settings.web_port}/wecom/callback"


def settings_for(settings: Settings, emulator: WeComEmulator) -> Settings:
    """The settings with the emulator's app in every WeCom field."""
    state = emulator.state
    return settings.model_copy(
        update={
            "wecom_corp_id": state.corp_id,
            "wecom_agent_id": state.agent_id,
            "wecom_secret": SecretStr(state.secret),
            "wecom_token": SecretStr(emulator.token),
            "wecom_encoding_aes_key": SecretStr(emulator.encoding_aes_key),
            "wecom_api_base_url": emulator.api_base_url,
        }
    )


async def start_demo_wecom(
    stack: AsyncExitStack, services: Services
) -> tuple[Services, WeComEmulator | None]:
    """Starts the emulator (stopped with `stack`) unless WeCom is configured; returns the services to run
    with, their settings pointing at it, and the emulator (None when not started)."""
    if wecom_configured(services.settings):
        return services, None
    from sandbox.wecom import WeComEmulator

    emulator = WeComEmulator(
        corp_id="ww" + secrets.token_hex(8),
        agent_id=DEMO_AGENT_ID,
        secret=secrets.token_urlsafe(32),
        token=secrets.token_hex(16),
    )
    quiet = QuietEmulator()
    access = logging.getLogger("uvicorn.access")
    access.addFilter(quiet)
    stack.callback(access.removeFilter, quiet)
    await emulator.start()
    stack.push_async_callback(emulator.stop)
    emulator.connect(callback_url(services.settings))
    return dataclasses.replace(services, settings=settings_for(services.settings, emulator)), emulator


async def add_demo_members(emulator: WeComEmulator, people: ListPeople) -> None:
    """Puts every demo person in the app's visible range (可见范围), so messages to them arrive even
    before their chat is opened in the simulator (reminders, digests)."""
    for person in await people():
        userid = person.get("wecom_userid")
        if userid and userid not in emulator.state.members:
            emulator.add_member(str(userid))
