"""How many spreadsheet exports one web process writes at once (issue 15).

Each .xlsx export runs a writer process (~20 MB) and holds a database connection while it reads; thirty
at once made fifteen writers and 300 MB. So a process writes at most `capacity` exports at a time, a
person at most one; a request beyond that waits a few seconds in a short queue, then is told to try
again (429 with Retry-After)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

RETRY_AFTER_SECONDS = 10


class ExportBusy(Exception):
    """No export slot: `mine` when the person's own previous export is still being written."""

    def __init__(self, mine: bool) -> None:
        super().__init__("own export running" if mine else "all export slots busy")
        self.mine = mine


class ExportLimiter:
    """Slots for exports in one event loop: `capacity` at once, one per person, `queue` waiting at most
    `wait` seconds each."""

    def __init__(self, capacity: int, *, queue: int | None = None, wait: float = 5.0) -> None:
        self.capacity = capacity
        self.queue = 2 * capacity if queue is None else queue
        self.wait = wait
        self._slots = asyncio.Semaphore(capacity)
        self._people: set[Hashable] = set()
        self._waiting = self.running = 0

    @asynccontextmanager
    async def slot(self, person: Hashable) -> AsyncIterator[None]:
        """Holds a slot for the block; released however the block ends (a failed export too)."""
        if person in self._people:
            raise ExportBusy(mine=True)
        if self._slots.locked() and (self._waiting >= self.queue or self.wait <= 0):
            raise ExportBusy(mine=False)
        self._people.add(person)
        try:
            await self._acquire()
            self.running += 1
            try:
                yield
            finally:
                self.running -= 1
                self._slots.release()
        finally:
            self._people.discard(person)

    async def _acquire(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: taken without waiting
            return
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait)
        except TimeoutError:
            raise ExportBusy(mine=False) from None
        finally:
            self._waiting -= 1
