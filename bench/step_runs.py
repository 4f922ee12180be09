"""The conversation scenarios of bench.step_cost, each measured in a `Window` (CPU time per process).

- saturated: every phone repeats a step as soon as its reply shows, so the bot's queue never drains;
  gives CPU per update and throughput (no rate limiter in the bot);
- paced: 200 teachers filing /report like people (think time drawn around teachers / rate), the bot as
  shipped (its rate limiter on); gives the reply latency as the phone sees it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bench.bench_conversation import SEARCHES, first_pupil, harness_collector_paused, is_student_list
from bench.step_procs import Window
from sandbox.phone import Phone
from storage.models import Student
from tests.drills.scripts import Message, Step, report_steps, send

Act = Callable[[Phone, int], Awaitable[object]]
Expect = Callable[[Message], bool]
CANCELLED = ("已取消", "当前没有进行中的操作")


def anything(message: Message) -> bool:
    return True


def searched(message: Message) -> bool:
    return "搜索结果" in message["text"]


def cancelled(message: Message) -> bool:
    return any(words in message["text"] for words in CANCELLED)


ECHO: list[tuple[Act, Expect]] = [(lambda p, i: p.send(f"hello {i}"), anything)]
SEARCH: list[tuple[Act, Expect]] = [(lambda p, i: p.send(SEARCHES[i % 10]), searched)]
REPORT: list[tuple[Act, Expect]] = [(lambda p, i: p.send("/report"), is_student_list)]
CANCEL: list[tuple[Act, Expect]] = [(lambda p, i: p.send("/cancel"), cancelled)]
CANCEL_REPORT = CANCEL + REPORT


@dataclass
class Result:
    """One measured scenario: updates handled, the window's CPU and wall time, phone-side latencies."""

    scenario: str
    backend: str
    updates: int
    window: Window
    latencies: list[float] = field(default_factory=list)  # seconds, action to visible reply
    by_step: dict[str, list[float]] = field(default_factory=dict)
    failures: int = 0
    spread: list[float] = field(default_factory=list)  # bot CPU ms/update of every repeat (see `median`)
    # With `paired`: the echo bot's CPU ms/update measured right before each repeat, and each repeat's ratio.
    beside: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.updates / self.window.wall if self.window.wall else float("nan")


async def closed_loop(phones: Sequence[Phone], actions: list[tuple[Act, Expect]], rounds: int) -> int:
    """Each phone does `rounds` times the actions in order, each waiting for its reply; returns the
    number of updates sent."""

    async def one(phone: Phone) -> None:
        for i in range(rounds):
            for act, expect in actions:
                await act(phone, i)
                await phone.wait_for_reply(expect, timeout=60)

    await asyncio.gather(*(one(p) for p in phones))
    return len(phones) * rounds * len(actions)


async def saturated(
    scenario: str,
    backend: str,
    window: Window,
    phones: Sequence[Phone],
    actions: list[tuple[Act, Expect]],
    updates: int,
) -> Result:
    """About `updates` updates (whole rounds for every phone) as fast as the bot answers."""
    rounds = max(1, round(updates / (len(phones) * len(actions))))
    async with window.measure():
        sent = await closed_loop(phones, actions, rounds)
    return Result(scenario, backend, sent, window)


async def median(repeats: int, once: Callable[[], Awaitable[Result]]) -> Result:
    """The repeat with the median bot CPU per update, carrying every repeat's figure in `spread`: on a
    shared machine one run's CPU time per update can be off by a fifth."""
    results = sorted([await once() for _ in range(repeats)], key=lambda r: r.window.per(r.updates))
    chosen = results[len(results) // 2]
    chosen.spread = [r.window.per(r.updates) for r in results]
    return chosen


async def paired(
    repeats: int, product: Callable[[], Awaitable[Result]], echo: Callable[[], Awaitable[Result]]
) -> Result:
    """`median` of the product's repeats, each right after the echo bot did the same: the machine's speed
    drifts over a long run (other tenants, its own clock), and a ratio of two figures a minute apart
    carries much less of that drift than one of figures ten minutes apart."""
    beside: list[float] = []
    ratios: list[float] = []

    async def once() -> Result:
        e = await echo()
        p = await product()
        beside.append(e.window.per(e.updates))
        ratios.append(p.window.per(p.updates) / beside[-1])
        return p

    chosen = await median(repeats, once)
    chosen.beside, chosen.ratios = beside, ratios
    return chosen


def echo_steps() -> Iterator[Step]:
    return (Step("echo", send(f"step {n}"), anything) for n in itertools.count())


def report_flow(pupil: Student) -> Iterator[Step]:
    """/report over and over, tapping the first pupil of the list (the list may be paged)."""
    steps = report_steps(pupil)
    steps[1] = Step("student", first_pupil, steps[1].expect)
    return itertools.cycle(steps)


async def paced(
    scenario: str,
    backend: str,
    window: Window,
    phones: Sequence[Phone],
    flows: Sequence[Iterator[Step]],
    rate: float,
    duration: float,
    seed: int = 17,
) -> Result:
    """Every phone steps through its own flow with a think time drawn uniformly in [0.5, 1.5] × the
    mean that makes `rate` steps a second in all; steps start until `duration` seconds have passed."""
    rng = random.Random(seed)
    mean = len(phones) / rate
    result = Result(scenario, backend, 0, window)
    deadline = time.perf_counter() + duration

    async def person(phone: Phone, flow: Iterator[Step]) -> None:
        await asyncio.sleep(min(rng.uniform(0, mean), duration))
        for step in flow:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            try:
                await step.action(phone)
                await phone.wait_for_reply(step.expect, timeout=30)
            except TimeoutError:
                result.failures += 1
                return
            result.latencies.append(time.perf_counter() - started)
            result.by_step.setdefault(step.name, []).append(result.latencies[-1])
            result.updates += 1
            await asyncio.sleep(
                min(rng.uniform(0.5 * mean, 1.5 * mean), max(0, deadline - time.perf_counter()))
            )

    async with window.measure():
        with harness_collector_paused():
            await asyncio.gather(*(person(p, f) for p, f in zip(phones, flows, strict=True)))
    return result
