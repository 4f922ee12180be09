"""The simulator page in headless Chromium on both channels: a person switched to 企业微信 sends their invite
code, sees the app's card and taps it (the tap reaches the product's inbox), sees the card answered, sends
a photo; switched back, their Telegram chat is as it was."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from bot.wecom.api import WeComClient
from bot.wecom.cards import button_card
from bot.wecom.inbound import CardTap
from domain.clock import FixedClock
from sandbox import Emulator
from sandbox.files import make_test_image
from sandbox.simulator import simulator_router
from sandbox.wecom import WeComEmulator
from sandbox.wecom.simulator import wecom_simulator_router
from storage.uow import UnitOfWorkFactory
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.sandbox.simulator_app import serve
from tests.web.live import live_server
from tests.web.test_wecom_inbox import WECOM, stored
from tests.web.test_wecom_simulator import TEACHER, product, wecom  # noqa: F401 (fixtures)

pytestmark = BROWSER_TEST


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the page is the point; the inbox runs on both databases in the API tests


@pytest.fixture
async def page_url(
    emulator: Emulator,
    wecom: WeComEmulator,  # noqa: F811
    database_url: str,
    media_dir: Path,
    clock: FixedClock,
) -> AsyncIterator[str]:
    """The simulator on both channels, WeCom's members posting to a real product server."""
    emulator.create_bot(username="nol_switch_bot")

    async def people() -> list[dict[str, Any]]:
        return [TEACHER]

    app = FastAPI()
    app.include_router(simulator_router(emulator, people))
    app.include_router(wecom_simulator_router(wecom, people))
    with live_server(database_url, media_dir, clock, **WECOM) as product_url:
        wecom.connect(f"{product_url}/wecom/callback")
        async with serve(app) as url:
            yield url


async def test_a_person_switches_to_wecom_taps_a_card_and_switches_back(
    page_url: str,
    product: WeComClient,  # noqa: F811
    uow_factory: UnitOfWorkFactory,
) -> None:
    from playwright.async_api import FilePayload, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 900, "height": 800})
            page.set_default_timeout(20_000)
            await page.goto(f"{page_url}/simulator")
            await page.get_by_text(TEACHER["name"]).click()
            await expect(page.locator(".bubble.me", has_text="/start tg-invite-code")).to_be_visible()

            await page.get_by_role("button", name="企业微信 WeCom").click()
            await expect(page.locator(".bubble.me", has_text=TEACHER["wecom_code"])).to_be_visible()
            await expect(page.locator(".bubble.undelivered")).to_have_count(0)

            card = button_card("case-7-step-2", "王小明今天来了吗？", [("yes", "来了"), ("no", "没来")])
            sent = await product.send_card(TEACHER["wecom_userid"], card)
            shown = page.locator(".bubble.bot", has_text="王小明今天来了吗？")
            await shown.get_by_role("button", name="没来").click()
            assert await _taps(uow_factory) == [("case-7-step-2", "no")]
            await product.update_card_buttons(TEACHER["wecom_userid"], sent.response_code, "没来")
            await expect(shown.locator(".card-answer")).to_have_text("✓ 没来")
            await expect(shown.get_by_role("button")).to_have_count(0)

            await page.set_input_files(
                "#photo-input",
                files=[
                    FilePayload(name="visit.jpg", mimeType="image/jpeg", buffer=make_test_image(480, 320))
                ],
            )
            await page.wait_for_function(
                "() => { const i = document.querySelector('.bubble.me img'); return i && i.naturalWidth > 0; }"
            )
            await page.screenshot(path=str(ARTIFACTS / "simulator-wecom.png"))

            await page.get_by_role("button", name="Telegram").click()
            await expect(page.locator(".bubble.me", has_text="/start tg-invite-code")).to_be_visible()
            await expect(page.locator(".bubble", has_text="王小明今天来了吗？")).to_have_count(0)
        finally:
            await browser.close()


async def _taps(uow_factory: UnitOfWorkFactory) -> list[tuple[str, str]]:
    """The card taps in the product's inbox once there are any (the page posts the tap on its own)."""
    for _ in range(200):  # bounded: ~10 s
        taps = [(m.task_id, m.event_key) for m in await stored(uow_factory) if isinstance(m, CardTap)]
        if taps:
            return taps
        await asyncio.sleep(0.05)
    return []
