"""The simulator page in headless Chromium: pick a person, chat with a real bot, tap its button."""

from __future__ import annotations

from sandbox import Emulator
from sandbox.files import make_test_image
from sandbox.state import BotState
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.sandbox.conftest import polling_app
from tests.sandbox.simulator_app import HELLO_HANDLERS, make_app, serve

pytestmark = BROWSER_TEST


async def test_simulator_in_chromium(emulator: Emulator, bot: BotState) -> None:
    from playwright.async_api import FilePayload, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with (
        polling_app(emulator, bot, HELLO_HANDLERS),
        serve(make_app(emulator)) as url,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 900, "height": 760})
            page.set_default_timeout(20_000)
            await page.goto(f"{url}/simulator")
            await page.get_by_text("王老师").click()
            await expect(page.locator(".bubble.bot").first).to_contain_text("hello /start demo-teacher")

            await page.locator("#text-input").fill("你好 bot")
            await page.locator("#send-button").click()
            answer = page.locator(".bubble.bot", has_text="hello 你好 bot")
            await expect(answer).to_be_visible()
            button = answer.get_by_role("button", name="Say hi back")
            await expect(button).to_be_visible()
            await button.click()

            edited = page.locator(".bubble.bot", has_text="you tapped hi")
            await expect(edited).to_be_visible()
            await expect(page.locator("#toast")).to_contain_text("👋")

            await page.set_input_files(
                "#photo-input",
                files=[
                    FilePayload(name="evidence.jpg", mimeType="image/jpeg", buffer=make_test_image(480, 320))
                ],
            )
            photo = page.locator(".bubble.me img")
            await expect(photo).to_be_visible()
            await page.wait_for_function(
                "() => { const i = document.querySelector('.bubble.me img'); return i && i.naturalWidth > 0; }"
            )
            await page.locator("#location-toggle").click()
            await page.locator("#lat-input").fill("25.04")
            await page.locator("#lon-input").fill("102.71")
            await page.get_by_role("button", name="发送位置 / Send location").click()
            await expect(page.locator(".bubble.me", has_text="25.04, 102.71")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "simulator.png"))
        finally:
            await browser.close()
