"""The processes of bench.step_cost: the emulator, the bot under test, and a measuring window over them.

The emulator runs in its own process (bench/emulator_process.py), the bot in another (bench/echo_bot.py
or bench/product_bot.py); the phones stay in the benchmark's process. A `Window` records the CPU time
each of them (and PostgreSQL's backends serving the bot) spent while a scenario ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg

from bench.cpu import Meter, cpu_seconds, kernel_seconds, load
from tests import db
from tests.drills.procs import expect_line, kill9, log_tail, product_env, spawn


@dataclass
class EmulatorProcess:
    """The Bot API emulator in a child process, with the bot under test's account and the echo bot's."""

    process: asyncio.subprocess.Process
    url: str
    token: str
    username: str
    echo_token: str
    echo_username: str

    @property
    def echo(self) -> EmulatorProcess:
        """The same emulator as the echo bot's account (its bot_process, its phones)."""
        return replace(self, token=self.echo_token, username=self.echo_username)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def command(self, op: str, **args: object) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.process.stdin.drain()
        async with asyncio.timeout(60):
            return json.loads(await self.process.stdout.readline())

    async def users(self, count: int) -> list[int]:
        """`count` new people whose chats with both bots are started; their user ids."""
        return [int(u) for u in await self.command("users", count=count)]


@asynccontextmanager
async def emulator_process(folder: Path, *, limits: bool) -> AsyncIterator[EmulatorProcess]:
    log = folder / "emulator.log"
    process = await spawn(
        ["-m", "bench.emulator_process", *(["--limits"] if limits else [])], dict(os.environ), log
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator process did not start; its log ends:\n{log_tail(log)}")
        hello = json.loads(line)
        yield EmulatorProcess(
            process,
            hello["url"],
            hello["token"],
            hello["username"],
            hello["echo_token"],
            hello["echo_username"],
        )
    finally:
        await kill9(process)


@dataclass
class BotUnderTest:
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def dump_profile(self, path: Path) -> None:
        await self.say(f"dump {path}")
        await expect_line(self.process, "dumped", timeout=120)


@asynccontextmanager
async def bot_process(
    module: str,
    database_url: str,
    emulator: EmulatorProcess,
    folder: Path,
    wrapper: Sequence[str] = (),
    **extra: str,
) -> AsyncIterator[BotUnderTest]:
    """`python -m <module>` polling the emulator, under `wrapper` if given; ready once it polls."""
    env = product_env(database_url, emulator.token, emulator.url, folder / "media", **extra)
    log = folder / f"{module.rsplit('.', 1)[-1]}.log"
    process = await spawn(["-m", module], env, log, wrapper)
    try:
        for wanted in ("ready", "polling"):
            try:
                await expect_line(process, wanted, timeout=600 if wrapper else 60)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(
                    f"{module} did not print {wanted!r}; its log ends:\n{log_tail(log)}"
                ) from exc
            if wanted == "ready":
                assert process.stdin is not None
                process.stdin.write(b"go\n")
                await process.stdin.drain()
        yield BotUnderTest(process, log)
    finally:
        await stop(process, timeout=600 if wrapper else 30)


async def stop(process: asyncio.subprocess.Process, timeout: float) -> None:
    """Closes the bot's stdin, which tells it to stop as the product does; kill -9 if it has not ended
    within `timeout` seconds."""
    if process.returncode is None and process.stdin is not None:
        process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), timeout)
    await kill9(process)


async def postgres_backends(database_url: str) -> list[int]:
    """The pids of PostgreSQL's backends connected to the database of `database_url` (none for SQLite)."""
    if not database_url.startswith("postgresql"):
        return []
    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(db.PG_ADMIN_DSN)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


@dataclass
class Window:
    """CPU seconds of the bot, the emulator, the phones (this process) and PostgreSQL over one scenario,
    with its wall time and the machine's load when it started."""

    bot: int
    emulator: int
    database_url: str
    wall: float = 0.0
    load: str = ""
    cpu: dict[str, float] = field(default_factory=dict)

    @asynccontextmanager
    async def measure(self) -> AsyncIterator[Window]:
        meters = {
            "bot": Meter([self.bot]),
            "bot kernel": Meter([self.bot], kernel_seconds),
            "emulator": Meter([self.emulator]),
            "phones": Meter([os.getpid()]),
            "postgresql": Meter(),
        }
        self.load = load()
        for meter in meters.values():
            meter.start()
        meters["postgresql"].start(await postgres_backends(self.database_url))
        started = time.perf_counter()
        yield self
        self.wall = time.perf_counter() - started
        meters["postgresql"].stop(await postgres_backends(self.database_url))
        for name, meter in meters.items():
            if name != "postgresql":
                meter.stop()
            self.cpu[name] = meter.spent

    def per(self, n: int, who: str = "bot") -> float:
        """Milliseconds of `who`'s CPU per unit of n."""
        return self.cpu[who] / n * 1e3 if n else float("nan")

    def busy(self, who: str) -> float:
        """Share of one core that `who` used over the window."""
        return self.cpu[who] / self.wall if self.wall else float("nan")


def own_cpu() -> float:
    return cpu_seconds(os.getpid())
