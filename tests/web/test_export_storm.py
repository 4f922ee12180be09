"""Thirty exports asked for at once, against a real server: never more .xlsx writer processes than
WEB_EXPORT_CONCURRENCY (before the cap there was one per request), every request answered 200 or 429,
and every slot free again afterwards (issue 15)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx

from domain.clock import FixedClock
from tests.web.conftest import login
from tests.web.county import USERS, County
from tests.web.live import live_server

PER_USER = 6  # x 5 users = 30 requests at once


class WriterCount(threading.Thread):
    """Samples how many domain.reports.xlsx_writer children this process (which runs the server) has."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stopped = 0, threading.Event()

    def now(self) -> int:
        count = 0
        for children in Path("/proc/self/task").glob("*/children"):
            for pid in children.read_text().split():
                try:
                    if b"domain.reports.xlsx_writer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        count += 1
                except OSError:  # already gone
                    pass
        return count

    def run(self) -> None:
        while not self.stopped.wait(0.005):
            self.peak = max(self.peak, self.now())


async def test_concurrent_exports_never_run_more_writers_than_the_cap(
    database_url: str, media_dir: Path, clock: FixedClock, county: County
) -> None:
    with live_server(database_url, media_dir, clock) as url:
        clients = [httpx.AsyncClient(base_url=url, timeout=60) for _ in USERS]
        try:
            for client, username in zip(clients, USERS, strict=True):
                assert (await login(client, username)).status_code == 303
            writers = WriterCount()
            writers.start()
            try:
                replies = await asyncio.gather(
                    *(c.get("/exports/persuasion.xlsx") for c in clients for _ in range(PER_USER))
                )
            finally:
                writers.stopped.set()
                writers.join(5)
            statuses = [r.status_code for r in replies]
            assert set(statuses) <= {200, 429} and 200 in statuses, statuses
            assert all(r.headers.get("retry-after") for r in replies if r.status_code == 429)
            assert writers.peak <= 2, writers.peak  # WEB_EXPORT_CONCURRENCY's default
            # Every slot was given back: each person can export again.
            for client in clients:
                assert (await client.get("/exports/persuasion.csv")).status_code == 200
        finally:
            for client in clients:
                await client.aclose()
