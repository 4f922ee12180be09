"""A version counter that coroutines can wait on with a bounded timeout."""

from __future__ import annotations

import asyncio


class Notifier:
    """Counts changes; `wait_beyond` returns as soon as the count passes a known value."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def bump(self) -> int:
        """Record a change and wake every waiter."""
        self.version += 1
        # A fresh event per change lets late waiters block again without a clear() race.
        event, self._event = self._event, asyncio.Event()
        event.set()
        return self.version

    async def wait_beyond(self, version: int, timeout: float) -> bool:
        """Wait until `self.version > version` or `timeout` seconds pass; return whether it changed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while self.version <= version:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                return False
        return True
