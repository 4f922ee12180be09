"""Instructions per update under valgrind's callgrind: the part of bench.step_cost whose figures do not
depend on the machine's speed (issue 17).

CPU time per update moved by up to 2× within one run on the shared VMs this is measured on. Callgrind
counts the instructions the bot's process executes instead, and the same work gives the same count (to
about 0.1 %) whatever else the machine is doing. The bot runs under `valgrind --tool=callgrind
--instr-atstart=no`, so start-up and the warm-up are not counted; `callgrind_control` switches counting
on for the measured updates only, then dumps the total. By default one phone sends one update at a time,
so every update is handled alone (no batch whose size depends on timing) and the count repeats; with
`--counted-phones 40` as many are in flight as in the saturated runs, and the bot, slowed down by
callgrind, always gets full batches. Under callgrind the bot runs some 50× slower: a few hundred updates
per scenario are enough. The count is of the process's own instructions: the kernel's work for its
system calls is not in it (the CPU table's "of it kernel" column shows that part).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.harness import populate_school, scratch_database, services_for, shared_client
from bench.step_procs import EmulatorProcess, bot_process, emulator_process
from bench.step_runs import CANCEL, CANCEL_REPORT, ECHO, REPORT, SEARCH, Act, Expect, closed_loop
from sandbox.phone import Phone

CALLGRIND = ("valgrind", "--tool=callgrind", "--instr-atstart=no")


@dataclass
class Count:
    """Instructions the bot executed over `updates` updates of one scenario."""

    scenario: str
    backend: str
    updates: int
    instructions: int

    @property
    def per_update(self) -> float:
        return self.instructions / self.updates


def callgrind_available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


async def control(pid: int, *args: str) -> None:
    """`callgrind_control ARGS PID`; it reaches the process through valgrind's gdbserver."""
    process = await asyncio.create_subprocess_exec(
        "callgrind_control",
        *args,
        str(pid),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(120):
        out, _ = await process.communicate()
    if process.returncode or b"OK" not in out:
        raise RuntimeError(f"callgrind_control {' '.join(args)} failed: {out.decode(errors='replace')}")


def totals(dump: Path) -> int:
    """The `totals:` line of a callgrind dump: instructions since the last zeroing."""
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"{dump} has no totals line")


class Counter:
    """The counting of one bot process under callgrind: each `counting()` block yields nothing and
    leaves its instruction count in `last`."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid, self.out, self.dumps, self.last = pid, out, 0, 0

    @asynccontextmanager
    async def counting(self) -> AsyncIterator[None]:
        await control(self.pid, "--zero")
        await control(self.pid, "--instr=on")
        yield
        await control(self.pid, "--instr=off")
        await control(self.pid, "--dump")
        self.dumps += 1
        self.last = totals(self.out.with_name(f"{self.out.name}.{self.dumps}"))


async def count(
    counter: Counter,
    scenario: str,
    backend: str,
    phones: list[Phone],
    actions: list[tuple[Act, Expect]],
    updates: int,
) -> Count:
    rounds = max(1, round(updates / (len(phones) * len(actions))))
    async with counter.counting():
        sent = await closed_loop(phones, actions, rounds)
    return Count(scenario, backend, sent, counter.last)


def wrapper(out: Path) -> list[str]:
    return [*CALLGRIND, f"--callgrind-out-file={out}"]


async def counted_bots(
    emu: EmulatorProcess, phones: list[Phone], folder: Path, backends: list[str], updates: int
) -> AsyncIterator[Count]:
    """Echo first, then the product's two step kinds on each database."""
    out = folder / "echo.callgrind"
    unused = f"sqlite+aiosqlite:///{folder}/unused.db"
    async with bot_process("bench.echo_bot", unused, emu, folder, wrapper(out)) as bot:
        await closed_loop(phones, ECHO, 3)  # warm-up, not counted
        yield await count(Counter(bot.pid, out), "echo", "–", phones, ECHO, updates)
    for backend in backends:
        async with scratch_database(backend) as url:
            services = services_for(url, folder)
            try:
                await populate_school(services, [p.user for p in phones])
            finally:
                await services.close()
            out = folder / f"product-{backend}.callgrind"
            async with bot_process(
                "bench.product_bot", url, emu, folder, wrapper(out), NOL_BENCH_NO_RATE_LIMITER="1"
            ) as bot:
                counter = Counter(bot.pid, out)
                await closed_loop(phones, REPORT, 1)  # warm-up: on the pupil question
                await closed_loop(phones, SEARCH, 3)
                yield await count(counter, "search step of /report", backend, phones, SEARCH, updates)
                await closed_loop(phones, CANCEL_REPORT, 2)
                yield await count(counter, "/cancel then /report", backend, phones, CANCEL_REPORT, updates)
                await closed_loop(phones, CANCEL, 1)


COUNT_HEAD = (
    "| scenario | db | updates | instructions per update (millions) | × echo |\n|---|---|---|---|---|"
)


def count_row(c: Count, echo: Count | None) -> str:
    ratio = f"{c.per_update / echo.per_update:.2f}" if echo and echo is not c else ""
    return f"| {c.scenario} | {c.backend} | {c.updates} | {c.per_update / 1e6:.2f} | {ratio} |"


async def instructions(folder: Path, backends: list[str], updates: int, phones: int = 1) -> list[Count]:
    """Prints each scenario's row as it is counted; returns the counts. With more than one phone, the
    updates of all of them are in flight at once (every phone sends its next one when its reply shows)."""
    counts: list[Count] = []
    async with emulator_process(folder, limits=False) as emu:
        accounts = await emu.users(phones)
        async with shared_client(4 * phones) as client:
            senders = [Phone(emu.url, emu.username, {"id": a}, client=client) for a in accounts]
            async for c in counted_bots(emu, senders, folder, backends, updates):
                counts.append(c)
                print("  " + count_row(c, counts[0]), flush=True)
    return counts
