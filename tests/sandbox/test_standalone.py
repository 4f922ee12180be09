"""`python -m sandbox` serves the emulator on 127.0.0.1 with one bot."""

from __future__ import annotations

import asyncio
import re
import sys

import httpx


async def test_standalone_server() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--no-limits",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode() for _ in range(3)]
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0])
        token = re.search(r"token=(\S+)", lines[2])
        assert url and token, lines
        async with httpx.AsyncClient(timeout=10) as client:
            me = (await client.get(f"{url.group(0)}/bot{token.group(1)}/getMe")).json()
            assert me["result"]["username"] == "notoneless_test_bot"
            health = (await client.get(f"{url.group(0)}/_control/health")).json()
            assert health["result"]["bots"] == 1
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)
