"""The demo as a newcomer sees it: `notoneless run` without a token, the simulator in Chromium,
a demo class teacher binding themselves and filing a whole absence report by tapping buttons."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.container import build_services
from domain.demo import create_demo_data
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_runner import running, settings_for

pytestmark = BROWSER_TEST


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the demo runs on the embedded default


async def test_demo_teacher_files_an_absence_report_in_the_simulator(database_url: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    settings = settings_for(database_url, tmp_path)
    services = build_services(settings)
    await create_demo_data(services.uow, now=services.clock.now(), policy=services.policy, tz=services.tz)
    await services.close()
    ARTIFACTS.mkdir(exist_ok=True)
    async with running(settings) as base, async_playwright() as playwright:
        async with httpx.AsyncClient() as client:
            people = (await client.get(f"{base}/simulator/api/people")).json()
        people = people.get("result", people) if isinstance(people, dict) else people
        teacher = next(p for p in people if "班主任" in p["role_label"])
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 900, "height": 900})
            page.set_default_timeout(20_000)
            await page.goto(f"{base}/simulator")
            await page.get_by_text(teacher["name"]).first.click()
            await expect(page.locator(".bubble.bot", has_text="绑定成功")).to_be_visible()

            async def say(text: str) -> None:
                await page.locator("#text-input").fill(text)
                await page.locator("#send-button").click()

            async def tap(label: str, within: str) -> None:
                bubble = page.locator(".bubble.bot", has_text=within).last
                await bubble.get_by_role("button", name=label).first.click()

            await say("/report")
            pupils = page.locator(".bubble.bot", has_text="选择学生").last
            await expect(pupils.get_by_role("button").first).to_be_visible()
            await pupils.get_by_role("button").first.click()
            await tap("今天", "从哪天开始缺勤")
            await tap("暂不清楚", "缺勤原因")
            await tap("完成", "重点群体")
            await tap("跳过", "补充说明")
            await expect(page.locator(".bubble.bot", has_text="请核对")).to_be_visible()
            await tap("✅ 提交", "请核对")
            await expect(page.locator(".bubble.bot", has_text="个案编号")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "demo-report.png"))
        finally:
            await browser.close()
