"""A bounded wait for a condition that something else (the emulator, a product process) makes true."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import Callable, Iterator


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Polls `condition` every 20 ms; fails the test, naming `what`, after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.02)


@contextlib.contextmanager
def tasks_shown_after(seconds: float) -> Iterator[None]:
    """If the block still runs after `seconds` (a hang, before pytest-timeout ends the test with no word on
    what the event loop waited for), writes every asyncio task's stack to stderr."""

    def show() -> None:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=out)
        sys.stderr.write(f"still running after {seconds} s; the event loop's tasks:\n{out.getvalue()}")

    handle = asyncio.get_running_loop().call_later(seconds, show)
    try:
        yield
    finally:
        handle.cancel()
