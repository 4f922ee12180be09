"""Conversation benchmarks: update throughput against a bare echo bot, and step latency under 200 teachers.

Everything runs on 127.0.0.1: the Bot API emulator and the simulated phones in this process, the bot
(the product's Application, or the echo bot) in its own process, as in production.
"""

from __future__ import annotations

import asyncio
import gc
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    Table,
    Teacher,
    bot_process,
    percentile,
    phones_for,
    populate,
    scratch_database,
    services_for,
    shared_client,
    spread,
)
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from storage.models import Student
from tests.drills.scripts import Message, Step, buttons, report_steps

SEARCHES = "张王李赵刘陈杨黄周吴"


async def closed_loop(
    phones: list[Phone],
    act: Callable[[Phone, int], Awaitable[object]],
    expect: Callable[[Message], bool],
    steps: int,
) -> float:
    """Every phone does `steps` actions one after the other, each waiting for its reply. Returns updates/s."""

    async def one(phone: Phone) -> None:
        for i in range(steps):
            await act(phone, i)
            await phone.wait_for_reply(expect, timeout=60)

    started = time.perf_counter()
    await asyncio.gather(*(one(p) for p in phones))
    return len(phones) * steps / (time.perf_counter() - started)


def search(phone: Phone, i: int) -> Awaitable[object]:
    return phone.send(SEARCHES[i % 10])


def searched(message: Message) -> bool:
    return "搜索结果" in message["text"]


def is_student_list(message: Message) -> bool:
    return "报告缺勤" in message["text"] and bool(buttons(message))


@dataclass
class County:
    url: str
    emulator: Emulator
    tg_bot: BotState
    folder: Path
    teachers: list[Teacher]
    phones: list[Phone]


@asynccontextmanager
async def county(backend: str, teachers_n: int) -> AsyncIterator[County]:
    """A scratch database with `teachers_n` bound teachers, the emulator (limits off) and their phones."""
    async with scratch_database(backend) as url, Emulator(limits=False) as emulator:
        tg_bot = emulator.create_bot(username="nol_bench_bot")
        with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
            services = services_for(url, Path(tmp))
            try:
                teachers = await populate(services, emulator, tg_bot, teachers_n)
            finally:
                await services.close()
            async with shared_client(4 * teachers_n) as client:
                yield County(
                    url, emulator, tg_bot, Path(tmp), teachers, phones_for(emulator, tg_bot, teachers, client)
                )


async def throughput(backend: str, table: Table, phones_n: int = 40, steps: int = 25) -> None:
    """The searchable pupil question of /report (typed fragment → DB read, draft write, commit, reply)
    against an echo bot (text → reply), both polling the same emulator with flood limits off."""
    async with county(backend, phones_n) as c:
        async with bot_process(c.url, c.emulator, c.tg_bot, c.folder, "bench.echo_bot"):
            await closed_loop(c.phones, lambda p, i: p.send(f"warm {i}"), lambda m: True, 2)
            echo = await closed_loop(c.phones, lambda p, i: p.send(f"hello {i}"), lambda m: True, steps)
        async with bot_process(
            c.url, c.emulator, c.tg_bot, c.folder, "bench.echo_bot", ECHO_RATE_LIMITER="1"
        ):
            limited = await closed_loop(c.phones, lambda p, i: p.send(f"hello {i}"), lambda m: True, steps)
        async with bot_process(c.url, c.emulator, c.tg_bot, c.folder):
            await closed_loop(c.phones, lambda p, i: p.send("/report"), is_student_list, 1)
            product = await closed_loop(c.phones, search, searched, steps)
        async with bot_process(c.url, c.emulator, c.tg_bot, c.folder, NOL_BENCH_NO_RATE_LIMITER="1"):
            raw = await closed_loop(c.phones, search, searched, steps)
    table.add(
        "throughput", backend, "echo bot (bare PTB)", f"{echo:.0f} updates/s", note=f"{phones_n} phones"
    )
    table.add(
        "throughput",
        backend,
        "echo bot + rate limiter",
        f"{limited:.0f} updates/s",
        note="the product's limiter: ≤ 28 msg/s, under Telegram's cap",
    )
    table.add(
        "throughput",
        backend,
        "/report step, as shipped",
        f"{product:.0f} updates/s",
        note="search a pupil; rate limiter on",
    )
    table.add(
        "throughput",
        backend,
        "/report step, no limiter",
        f"{raw:.0f} updates/s",
        note="the same with the 30/s cap removed (bench only)",
    )
    table.add(
        "throughput",
        backend,
        "ratio product/echo",
        f"{raw / echo:.2f}",
        target="≥ 0.5",
        note=("PASS" if raw / echo >= 0.5 else "below target") + "; both without a limiter",
    )
    table.add(
        "throughput",
        backend,
        "ratio as shipped",
        f"{product / limited:.2f}",
        note=f"both with the limiter; vs the bare echo {product / echo:.2f}",
    )


async def floor(backend: str, table: Table, steps: int = 40) -> None:
    """One phone alone, one step after the other: what the harness itself costs (echo) and what a step adds."""

    async def timed(
        phone: Phone, act: Callable[[int], Awaitable[object]], expect: Callable[[Message], bool]
    ) -> float:
        samples = []
        for i in range(steps):
            started = time.perf_counter()
            await act(i)
            await phone.wait_for_reply(expect, timeout=30)
            samples.append(time.perf_counter() - started)
        return percentile(samples, 0.5)

    async with county(backend, 1) as c:
        phone = c.phones[0]
        async with bot_process(c.url, c.emulator, c.tg_bot, c.folder, "bench.echo_bot"):
            echo = await timed(phone, lambda i: phone.send(f"x{i}"), lambda m: True)
        async with bot_process(c.url, c.emulator, c.tg_bot, c.folder):
            await phone.send("/report")
            await phone.wait_for_reply(is_student_list, timeout=30)
            product = await timed(phone, lambda i: search(phone, i), searched)
    table.add(
        "latency",
        backend,
        "one phone alone",
        f"p50 {product * 1e3:.0f} ms",
        note=f"echo bot p50 {echo * 1e3:.0f} ms (the emulator and phone round trip)",
    )


@contextmanager
def harness_collector_paused() -> Iterator[None]:
    """The 200 phones and the emulator share this process; a full garbage collection of their message
    histories stalls it for ~100 ms and every step in flight looks that much slower. The instrument's
    own pauses are not the bot's latency, so this process does not collect while it measures (a
    bounded run: 1 600 steps). The bot's process collects as in production."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def first_pupil(phone: Phone) -> Awaitable[object]:
    ask = next(m for m in reversed(phone.messages) if buttons(m) and not m["deleted"])
    return phone.tap(next(b for b in buttons(ask) if "…" in b))


async def latency(
    backend: str,
    table: Table,
    teachers_n: int = 200,
    think: tuple[float, float] = (1.0, 4.0),
    seed: int = 200,
) -> None:
    """Every teacher files a whole /report at the same time, pausing `think` seconds between steps like
    a person; latency is from the phone's action to the bot's reply being visible on the phone."""
    rng = random.Random(seed)
    samples: list[float] = []
    by_step: dict[str, list[float]] = {}

    async def work(phone: Phone, pupil: Student) -> None:
        steps = report_steps(pupil)
        steps[1] = Step("student", first_pupil, steps[1].expect)
        await asyncio.sleep(rng.uniform(0, think[1]))
        for step in steps:
            started = time.perf_counter()
            await step.action(phone)
            await phone.wait_for_reply(step.expect, timeout=60)
            samples.append(time.perf_counter() - started)
            by_step.setdefault(step.name, []).append(samples[-1])
            await asyncio.sleep(rng.uniform(*think))

    async with county(backend, teachers_n) as c:
        timings = c.folder / "bot_timings.txt"
        async with bot_process(c.url, c.emulator, c.tg_bot, c.folder, NOL_BENCH_TIMINGS=str(timings)):
            started = time.perf_counter()
            with harness_collector_paused():
                await asyncio.gather(
                    *(work(p, t.pupils[0]) for p, t in zip(c.phones, c.teachers, strict=True))
                )
            elapsed = time.perf_counter() - started
        in_bot = [float(line) / 1e3 for line in timings.read_text(encoding="utf-8").split()]
    p95 = sorted(samples)[int(0.95 * len(samples))] if samples else float("nan")
    table.add(
        "latency",
        backend,
        f"{teachers_n} teachers, /report",
        spread(samples),
        target="p95 ≤ 50 ms",
        note=("PASS" if p95 <= 0.05 else "above target") + f"; {len(samples)} steps, "
        f"{len(samples) / elapsed:.0f} steps/s, think {think[0]:g}–{think[1]:g} s",
    )
    table.add(
        "latency",
        backend,
        "the bot's own part",
        spread(in_bot),
        note="first handler to last, replies included, measured in the bot's process; the rest of "
        "a step is the emulator, the phones and the trip between them",
    )
    slowest = sorted(by_step.items(), key=lambda kv: -percentile(kv[1], 0.95))[:3]
    table.add(
        "latency",
        backend,
        "slowest steps (p95)",
        ", ".join(f"{k} {percentile(v, 0.95) * 1e3:.0f} ms" for k, v in slowest),
        note="fastest: "
        + ", ".join(
            f"{k} {percentile(v, 0.95) * 1e3:.0f} ms"
            for k, v in sorted(by_step.items(), key=lambda kv: percentile(kv[1], 0.95))[:2]
        ),
    )
