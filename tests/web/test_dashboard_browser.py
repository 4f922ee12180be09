"""The dashboard in headless Chromium: log in, filter the cases, open one with a photo, download a ledger."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from domain.clock import FixedClock
from domain.reports import ledgers
from storage.uow import UnitOfWorkFactory
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.web.county import PASSWORD, County
from tests.web.live import live_server

pytestmark = BROWSER_TEST


async def test_coordinator_works_through_the_dashboard_in_chromium(
    database_url: str,
    media_dir: Path,
    clock: FixedClock,
    county: County,
    uow_factory: UnitOfWorkFactory,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    async with uow_factory() as uow:
        numbers = {k: (await uow.cases.get(i)).number for k, i in county.cases.items()}  # type: ignore[union-attr]
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(database_url, media_dir, clock) as url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
                page.set_default_timeout(20_000)
                await page.goto(f"{url}/cases")  # not logged in: sent to the login page first
                await page.locator("#username").fill("township")
                await page.locator("#password").fill(PASSWORD)
                await page.locator("#login-button").click()
                await expect(page.locator("h1")).to_have_text("个案列表")
                await expect(page.locator("#case-table tbody tr")).to_have_count(4)

                await page.locator("#filter-status").select_option("absent")
                await page.locator("#apply-filters").click()
                await expect(page.locator("#case-table tbody tr")).to_have_count(1)
                await expect(page.locator("#case-table")).to_contain_text(numbers["B"])
                await page.locator("#filter-status").select_option("")
                await page.locator("#filter-key-group").select_option("left_behind")
                await page.locator("#apply-filters").click()
                await expect(page.locator("#case-table tbody tr")).to_have_count(1)

                await page.get_by_role("link", name=numbers["A"]).click()
                await expect(page.locator("#pupil")).to_contain_text(county.students["A"].name)
                photo = page.locator("#photos img")
                await expect(photo).to_have_count(1)
                await page.wait_for_function(
                    "() => { const i = document.querySelector('#photos img'); return i && i.naturalWidth > 0; }"
                )
                await expect(page.locator("#timeline")).to_contain_text("拒绝返校")
                await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

                await page.get_by_role("link", name="台账导出").click()
                async with page.expect_download() as info:
                    await page.locator("#export-persuasion-xlsx").click()
                download = await info.value
                target = tmp_path / download.suggested_filename
                await download.save_as(target)
                assert download.suggested_filename.startswith("劝返复学记录_")
                ws = load_workbook(target).active
                assert isinstance(ws, Worksheet)
                assert [c.value for c in ws[1]] == [c.header for c in ledgers.columns("persuasion")]
                assert ws.max_row == 1 + 3

                await page.locator("#logout").click()
                await expect(page.locator("#login-button")).to_be_visible()
            finally:
                await browser.close()
