"""The demo's 企业微信: without WeCom settings `notoneless run` with DEMO=true runs the WeCom emulator beside
the Bot API emulator, serves /wecom/callback for its fictional app, and the simulator's members reach it;
with WeCom settings given, the demo leaves WeCom to them and runs no emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from app.container import build_services
from app.demo_wecom import DEMO_AGENT_ID
from app.settings import Settings
from bot.wecom.inbound import Text, pending
from domain.demo import create_demo_data
from tests.e2e.test_runner import running, settings_for
from tests.unit.test_wecom_crypto import CORP_ID, ENCODING_AES_KEY, TOKEN


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the demo runs on the embedded default


async def with_demo_data(settings: Settings) -> None:
    services = build_services(settings)
    try:
        await create_demo_data(
            services.uow,
            now=services.clock.now(),
            policy=services.policy,
            tz=services.tz,
            media=services.media,
        )
    finally:
        await services.close()


async def people(client: httpx.AsyncClient, base: str) -> list[dict[str, Any]]:
    return list((await client.get(f"{base}/simulator/api/people")).json())


async def test_the_demo_runs_the_wecom_emulator_and_a_member_reaches_the_callback(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, demo=True)
    await with_demo_data(settings)
    async with running(settings) as base, httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(f"{base}/simulator")).status_code == 200  # Telegram's side as before
        assert (await client.get(f"{base}/wecom/callback")).status_code == 400  # mounted: parameters missing
        person = next(p for p in await people(client, base) if p["wecom_code"])
        assert person["start_payload"] and person["start_payload"] != person["wecom_code"]
        opened = await client.post(
            f"{base}/simulator/api/wecom/open", json={"userid": person["wecom_userid"]}
        )
        assert opened.status_code == 200
        [sent] = opened.json()["messages"]
        assert sent["text"] == person["wecom_code"] and not sent.get("undelivered")
        services = build_services(settings)
        try:
            async with services.uow() as uow:
                inbox = [p.message for p in await pending(uow, DEMO_AGENT_ID)]
        finally:
            await services.close()
    assert [(m.sender, m.content) for m in inbox if isinstance(m, Text)] == [
        (person["wecom_userid"], person["wecom_code"])
    ]


async def test_with_wecom_settings_the_demo_runs_no_wecom_emulator(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(
        database_url,
        tmp_path,
        demo=True,
        wecom_corp_id=CORP_ID,
        wecom_token=TOKEN,
        wecom_encoding_aes_key=ENCODING_AES_KEY,
        wecom_agent_id=1000002,
    )
    await with_demo_data(settings)
    async with running(settings) as base, httpx.AsyncClient(timeout=30) as client:
        listed = await people(client, base)
        assert listed and not any("wecom_userid" in p for p in listed)
        opened = await client.post(f"{base}/simulator/api/wecom/open", json={"userid": "demo-1"})
        assert opened.status_code in (404, 405)
        assert (await client.get(f"{base}/wecom/callback")).status_code == 400  # the configured app's
