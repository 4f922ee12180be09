"""Exports are capped per web process and per person; a request beyond the cap gets 429 with
Retry-After and a page in the person's language, and a failed export gives its slot back (issue 15)."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from tests.web.conftest import AsUser, login
from tests.web.county import County
from web.export_limit import RETRY_AFTER_SECONDS, ExportBusy, ExportLimiter

BUSY_ZH = "当前正在生成的导出文件较多"
RUNNING_ZH = "您的另一个导出文件还在生成中"


async def test_one_export_per_person_and_capacity_per_process() -> None:
    limiter = ExportLimiter(2, wait=0)
    async with limiter.slot("a"):
        with pytest.raises(ExportBusy) as mine:
            async with limiter.slot("a"):
                pass
        assert mine.value.mine
        async with limiter.slot("b"):
            assert limiter.running == 2
            with pytest.raises(ExportBusy) as full:
                async with limiter.slot("c"):
                    pass
            assert not full.value.mine
    assert limiter.running == 0


async def test_a_failed_export_gives_its_slot_back() -> None:
    limiter = ExportLimiter(1, wait=0)
    with pytest.raises(RuntimeError):
        async with limiter.slot("a"):
            raise RuntimeError("the writer died")
    assert limiter.running == 0
    async with limiter.slot("a"):
        assert limiter.running == 1


async def test_a_request_waits_in_a_short_queue_for_a_free_slot() -> None:
    limiter = ExportLimiter(1, queue=1, wait=60)
    release, entered = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with limiter.slot("a"):
            entered.set()
            await release.wait()

    async def second() -> str:
        async with limiter.slot("b"):
            return "written"

    holder = asyncio.create_task(first())
    await entered.wait()
    waiter = asyncio.create_task(second())
    for _ in range(100):  # bounded: until the second request is queued
        if limiter._waiting == 1:
            break
        await asyncio.sleep(0)
    assert limiter._waiting == 1
    with pytest.raises(ExportBusy):  # the queue is full: refused at once
        async with limiter.slot("c"):
            pass
    release.set()
    assert await waiter == "written"
    await holder
    assert limiter.running == 0


@pytest.fixture
def limiter(app: FastAPI) -> ExportLimiter:
    app.state.export_limiter = made = ExportLimiter(1, wait=0)
    return made


async def test_a_second_concurrent_export_of_the_same_person_gets_429(
    as_user: AsUser, county: County, limiter: ExportLimiter
) -> None:
    client = await as_user("principal")
    async with limiter.slot(county.staff["principal"].id):  # the first export, still being written
        for url in ("/exports/dropout.xlsx", "/exports/persuasion.csv"):
            reply = await client.get(url)
            assert reply.status_code == 429, url
            assert reply.headers["retry-after"] == str(RETRY_AFTER_SECONDS) and RUNNING_ZH in reply.text
    assert (await client.get("/exports/dropout.xlsx")).status_code == 200


async def test_exports_beyond_the_process_cap_get_429_in_the_persons_language(
    as_user: AsUser, county: County, limiter: ExportLimiter
) -> None:
    client = await as_user("county")
    async with limiter.slot(county.staff["principal"].id):  # someone else's export fills the process
        reply = await client.get("/exports/suspected.xlsx")
        assert reply.status_code == 429 and BUSY_ZH in reply.text
        client.cookies.clear()
        await client.get("/login?lang=en")
        assert (await login(client, "county")).status_code == 303
        english = await client.get(f"/exports/monthly.xlsx?school={county.world.school.id}")
    assert english.status_code == 429 and "Many exports are being prepared" in english.text
    assert (await client.get("/exports/suspected.xlsx")).status_code == 200


async def test_the_slot_is_released_after_a_failed_export(
    as_user: AsUser, county: County, limiter: ExportLimiter
) -> None:
    client = await as_user("principal")
    # The monthly report of a school outside the area fails inside the export (404).
    failed = await client.get(f"/exports/monthly.xlsx?school={county.school2.id}&month=2026-10")
    assert failed.status_code == 404 and limiter.running == 0
    assert (await client.get("/exports/dropout.csv")).status_code == 200
