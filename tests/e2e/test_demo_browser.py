"""The demo as a newcomer sees it: `notoneless run` with DEMO=true, the simulator in Chromium,
a demo class teacher binding themselves, filing a whole absence report and logging a home visit with a photo;
and the same on 企业微信 (the channel switch), as far as the first answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from app.container import build_services
from domain.demo import create_demo_data
from sandbox.files import make_test_image
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_demo_wecom import people, with_demo_data
from tests.e2e.test_runner import running, settings_for

if TYPE_CHECKING:
    from playwright.async_api import Page, Playwright

pytestmark = BROWSER_TEST


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the demo runs on the embedded default


@asynccontextmanager
async def simulator_page(playwright: Playwright, base: str) -> AsyncIterator[Page]:
    """The demo's simulator in a fresh headless Chromium, closed when the block ends."""
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        page = await browser.new_page(viewport={"width": 900, "height": 900})
        page.set_default_timeout(20_000)
        await page.goto(f"{base}/simulator")
        yield page
    finally:
        await browser.close()


async def test_demo_teacher_files_an_absence_report_in_the_simulator(
    database_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import FilePayload, async_playwright, expect

    settings = settings_for(database_url, tmp_path, demo=True)
    services = build_services(settings)
    await create_demo_data(
        services.uow, now=services.clock.now(), policy=services.policy, tz=services.tz, media=services.media
    )
    await services.close()
    ARTIFACTS.mkdir(exist_ok=True)
    async with running(settings) as base, async_playwright() as playwright:
        async with httpx.AsyncClient() as client:
            people = (await client.get(f"{base}/simulator/api/people")).json()
        people = people.get("result", people) if isinstance(people, dict) else people
        teacher = next(p for p in people if "班主任" in p["role_label"])
        async with simulator_page(playwright, base) as page:
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
            done = page.locator(".bubble.bot", has_text="个案编号")
            await expect(done).to_be_visible()
            number = re.search(r"个案编号 (\d{4}-\d{6})", await done.inner_text())
            assert number is not None
            await page.screenshot(path=str(ARTIFACTS / "demo-report.png"))

            # The same teacher logs the home visit for that case, with a photo and a typed location.
            await say("/visit")
            cases = page.locator(".bubble.bot", has_text="要记录哪个个案").last
            await cases.get_by_role("button", name=re.compile(number.group(1))).click()
            await tap("今天", "这次家访（劝返）是哪天")
            await tap("入户家访", "怎么家访")
            await tap("完成", "还有谁一起参加")
            await tap("监护人", "联系上）了谁")
            await tap("拒绝返校", "家访结果如何")  # the first visit: no notice is offered yet
            await expect(page.locator(".bubble.bot", has_text="家访照片")).to_be_visible()
            await page.set_input_files(
                "#photo-input",
                files=[
                    FilePayload(name="visit.jpg", mimeType="image/jpeg", buffer=make_test_image(800, 600))
                ],
            )
            await tap("完成", "已收到 1/")
            await expect(page.locator(".bubble.bot", has_text="发送您当前的位置")).to_be_visible()
            await page.locator("#location-toggle").click()
            await page.locator("#lat-input").fill("27.2")
            await page.locator("#lon-input").fill("110.3")
            await page.get_by_role("button", name="发送位置 / Send location").click()
            await tap("跳过", "下次跟进")
            await tap("跳过", "还有要补充的吗")
            await expect(page.locator(".bubble.bot", has_text="家访日期")).to_be_visible()
            await tap("✅ 提交", "家访日期")
            await expect(page.locator(".bubble.bot", has_text="家访已记录")).to_contain_text("1 张照片")
            await page.screenshot(path=str(ARTIFACTS / "demo-visit.png"))


async def test_demo_teacher_starts_a_report_on_wecom_in_the_simulator(
    database_url: str, tmp_path: Path
) -> None:
    """On 企业微信: binds with the invite code, starts a report, taps a pupil on a card, is asked the next
    question. Needs the processor that turns WeCom callbacks into form answers; skipped without it."""
    pytest.importorskip("bot.wecom.processor", reason="the WeCom processor is not on this branch yet")
    from playwright.async_api import async_playwright, expect

    settings = settings_for(database_url, tmp_path, demo=True)
    await with_demo_data(settings)
    ARTIFACTS.mkdir(exist_ok=True)
    async with running(settings) as base, async_playwright() as playwright:
        async with httpx.AsyncClient(timeout=30) as client:
            teacher = next(p for p in await people(client, base) if "班主任" in p["role_label"])
        async with simulator_page(playwright, base) as page:
            await page.get_by_text(teacher["name"]).first.click()
            await page.get_by_role("button", name="企业微信 WeCom").click()
            await expect(page.locator(".bubble.me", has_text=teacher["wecom_code"])).to_be_visible()
            await expect(page.locator(".bubble.bot", has_text="绑定成功")).to_be_visible()

            await page.locator("#text-input").fill("/report")
            await page.locator("#send-button").click()
            card = page.locator(".bubble.bot", has_text="请选择").first
            await card.get_by_role("button").first.click()
            await expect(card.locator(".card-answer")).to_be_visible()
            await expect(page.locator(".bubble.bot", has_text="从哪天开始缺勤")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "demo-wecom.png"))
