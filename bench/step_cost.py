"""`python -m bench.step_cost`: the CPU cost of a conversation step (issue 17), the emulator in its own
process.

Processes, all on 127.0.0.1: the Bot API emulator (bench/emulator_process.py); the bot under test
(bench/echo_bot.py, a bare python-telegram-bot echo bot, or bench/product_bot.py, the product's
Application with the real services on a scratch SQLite file or PostgreSQL database); the phones in
this process; the echo bot keeps polling its own account beside the product, and is measured again right
before each repeat of a product scenario, so each ratio compares figures a minute apart. For each
scenario it reads the CPU time (utime + stime, /proc) of the bot, the emulator,
the phones and PostgreSQL's backends, and the machine's load. Then, if valgrind is installed, the bot's
instructions per update under callgrind (bench/step_instructions.py), which do not depend on the machine's
speed. It prints tables; it asserts nothing.

  python -m bench.step_cost --quick          # ~6 minutes
  python -m bench.step_cost                  # ~25 minutes: the figures and the profile in bench/RESULTS.md
  python -m bench.step_cost --only instructions [--counted-updates 300]   # ~3 minutes
  python -m bench.step_cost --only profile [--profile out.prof] [--profile-updates 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.__main__ import machine
from bench.cpu import load
from bench.harness import percentile, populate_school, scratch_database, services_for, shared_client
from bench.step_fanout import Fanout, fanout
from bench.step_instructions import COUNT_HEAD, Count, callgrind_available, count_row, instructions
from bench.step_procs import EmulatorProcess, Window, bot_process, emulator_process
from bench.step_profile import top_of_profile
from bench.step_runs import (
    CANCEL,
    CANCEL_REPORT,
    ECHO,
    REPORT,
    SEARCH,
    Act,
    Expect,
    Result,
    closed_loop,
    echo_steps,
    median,
    paced,
    paired,
    report_flow,
    saturated,
)
from sandbox.phone import Phone
from tests import db

# The saturated scenarios again with one phone: every update alone, so the echo bot and the product get
# batches of the same size (with 40 phones the slower bot gets the bigger getUpdates batches).
ONE = ", one at a time"
PARTS = ("echo", "product", "paced", "reminders", "instructions", "profile")


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    fanouts: list[Fanout] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)
        print("  " + row(result, self.baseline(result)), flush=True)

    def baseline(self, result: Result) -> Result | None:
        """The echo bot's figure measured the same way (saturated, one at a time or paced), for the rows
        not paired with the echo (step_runs.paired); none for the echo itself."""
        name = (
            "echo, paced" if result.latencies else "echo" + ONE if result.scenario.endswith(ONE) else "echo"
        )
        return next((r for r in self.results if r.scenario == name and r is not result), None)


def ms(seconds: list[float], q: float) -> str:
    return f"{percentile(seconds, q) * 1e3:.0f}" if seconds else "–"


HEAD = (
    "| scenario | db | updates | bot CPU ms/update (range of repeats) | echo beside it | × echo (range) "
    "| of it kernel "
    "| PostgreSQL CPU ms/update | emulator CPU ms/update | updates/s | reply p50 · p95 · p99 ms "
    "| busy: bot · emulator · phones | load 1/5/15 min |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def row(r: Result, echo: Result | None) -> str:
    w = r.window
    bot = w.per(r.updates)
    of_repeats = f" ({min(r.spread):.1f}–{max(r.spread):.1f})" if len(r.spread) > 1 else ""
    beside, ratio = "", ""
    if r.ratios:  # step_runs.paired: the echo measured right before each repeat
        beside = f"{statistics.median(r.beside):.1f}"
        ratio = f"{statistics.median(r.ratios):.2f} ({min(r.ratios):.2f}–{max(r.ratios):.2f})"
    elif echo and r.backend != "–":
        ratio = f"{bot / echo.window.per(echo.updates):.2f}"
    postgres = f"{w.per(r.updates, 'postgresql'):.1f}" if r.backend == "postgresql" else "–"
    latency = " · ".join(ms(r.latencies, q) for q in (0.5, 0.95, 0.99)) if r.latencies else "–"
    failed = f" ({r.failures} timed out)" if r.failures else ""
    busy = " · ".join(f"{w.busy(who):.0%}" for who in ("bot", "emulator", "phones"))
    return (
        f"| {r.scenario}{failed} | {r.backend} | {r.updates} | {bot:.1f}{of_repeats} | {beside} | {ratio} "
        f"| {w.per(r.updates, 'bot kernel'):.1f} | {postgres} "
        f"| {w.per(r.updates, 'emulator'):.1f} | {r.throughput:.0f} | {latency} | {busy} "
        f"| {w.load.removeprefix('load ')} |"
    )


FANOUT_HEAD = (
    "| reminders due | db | sent | msg/s sustained | policy | 429s | delivered | duplicates "
    "| sender CPU ms/msg | busy: sender · emulator | load 1/5/15 min |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def fanout_row(f: Fanout) -> str:
    w = f.window
    return (
        f"| {f.due} | {f.backend} | {f.sent} | {f.achieved:.1f} | {f.rate:g}/s | {f.too_many} | {f.delivered} "
        f"| {f.duplicates} | {w.per(f.sent):.1f} | {w.busy('bot'):.0%} · {w.busy('emulator'):.0%} "
        f"| {w.load.removeprefix('load ')} |"
    )


def steps_note(r: Result) -> str:
    slowest = sorted(r.by_step.items(), key=lambda kv: -percentile(kv[1], 0.95))
    return ", ".join(f"{k} {ms(v, 0.95)} ms (n={len(v)})" for k, v in slowest)


# The echo bot doing `updates` echoes with the first `phones` of its phones; measured right before each
# repeat of a product scenario of the same shape (see step_runs.paired).
EchoLike = Callable[[str, int, int], Awaitable[Result]]


async def product(
    run: Run,
    backend: str,
    emu: EmulatorProcess,
    phones: list[Phone],
    echo: EchoLike,
    folder: Path,
    args: argparse.Namespace,
) -> None:
    """The product on one database: two saturated step kinds (no rate limiter), each with 40 phones and
    with one, every repeat paired with the echo bot's; then paced teachers."""
    async with scratch_database(backend) as url:
        services = services_for(url, folder)
        try:
            teachers = await populate_school(services, [p.user for p in phones])
        finally:
            await services.close()
        few = phones[: args.phones]
        if "product" in args.only:
            async with bot_process(
                "bench.product_bot", url, emu, folder, NOL_BENCH_NO_RATE_LIMITER="1"
            ) as bot:
                await closed_loop(few, REPORT, 1)  # warm-up: every phone on the pupil question
                await closed_loop(few, SEARCH, 1)
                for name, actions in (
                    ("search step of /report", SEARCH),
                    ("/cancel then /report", CANCEL_REPORT),
                ):
                    for scenario, count, updates in (
                        (name, len(few), args.updates),
                        (name + ONE, 1, args.single_updates),
                    ):

                        def once(
                            scenario: str = scenario,
                            count: int = count,
                            updates: int = updates,
                            actions: list[tuple[Act, Expect]] = actions,
                        ) -> Awaitable[Result]:
                            window = Window(bot.pid, emu.pid, url)
                            return saturated(scenario, backend, window, few[:count], actions, updates)

                        def echoed(count: int = count, updates: int = updates) -> Awaitable[Result]:
                            return echo("echo beside", count, updates)

                        run.add(await paired(args.repeats, once, echoed))
                await closed_loop(few, CANCEL, 1)  # every teacher idle again for the paced run
        if "paced" in args.only:
            async with bot_process("bench.product_bot", url, emu, folder) as bot:
                flows = [report_flow(t.pupils[0]) for t in teachers]
                window = Window(bot.pid, emu.pid, url)
                result = await paced(
                    "/report steps, paced", backend, window, phones, flows, args.rate, args.duration
                )
                run.add(result)
                print(f"    p95 by step: {steps_note(result)}", flush=True)


async def conversation(run: Run, args: argparse.Namespace, backends: list[str]) -> None:
    """The echo bot polls its own account on the same emulator all along: measured on its own first, then
    again right before each repeat of a product scenario."""
    with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
        folder = Path(tmp)
        async with emulator_process(folder, limits=False) as emu:
            accounts = await emu.users(args.teachers)
            async with shared_client(4 * args.teachers) as client:
                phones = [Phone(emu.url, emu.username, {"id": a}, client=client) for a in accounts]
                echoes = [Phone(emu.url, emu.echo_username, {"id": a}, client=client) for a in accounts]
                unused = f"sqlite+aiosqlite:///{folder}/unused.db"
                async with bot_process("bench.echo_bot", unused, emu.echo, folder) as echo_bot:

                    def echo(scenario: str, count: int, updates: int) -> Awaitable[Result]:
                        window = Window(echo_bot.pid, emu.pid, "")
                        return saturated(scenario, "–", window, echoes[:count], ECHO, updates)

                    await closed_loop(echoes[: args.phones], ECHO, 2)  # warm-up
                    if "echo" in args.only:
                        run.add(await median(args.repeats, lambda: echo("echo", args.phones, args.updates)))
                        run.add(
                            await median(args.repeats, lambda: echo("echo" + ONE, 1, args.single_updates))
                        )
                        if "paced" in args.only:
                            flows = [echo_steps() for _ in echoes]
                            window = Window(echo_bot.pid, emu.pid, "")
                            run.add(
                                await paced(
                                    "echo, paced", "–", window, echoes, flows, args.rate, args.duration
                                )
                            )
                    for backend in backends:
                        if {"product", "paced"} & set(args.only):
                            await product(run, backend, emu, phones, echo, folder, args)


async def profile(args: argparse.Namespace) -> None:
    """cProfile in the bot's process over `--profile-updates` search steps (no rate limiter); the top of it
    is printed, the pstats kept in `--profile` if given."""
    with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
        folder = Path(tmp)
        stats = Path(args.profile).resolve() if args.profile else folder / "step.prof"
        async with (
            emulator_process(folder, limits=False) as emu,
            scratch_database(args.profile_backend) as url,
        ):
            accounts = await emu.users(args.phones)
            services = services_for(url, folder)
            try:
                await populate_school(services, [{"id": a} for a in accounts])
            finally:
                await services.close()
            async with shared_client(4 * args.phones) as client:
                phones = [Phone(emu.url, emu.username, {"id": a}, client=client) for a in accounts]
                async with bot_process(
                    "bench.product_bot", url, emu, folder, NOL_BENCH_NO_RATE_LIMITER="1"
                ) as bot:
                    await closed_loop(phones, REPORT, 1)
                    await closed_loop(phones, SEARCH, 1)
                    await bot.say("profile")
                    window = Window(bot.pid, emu.pid, url)
                    result = await saturated(
                        "search step (profiled)",
                        args.profile_backend,
                        window,
                        phones,
                        SEARCH,
                        args.profile_updates,
                    )
                    await bot.dump_profile(stats)
        print(
            f"\nProfile: {result.updates} search steps on {args.profile_backend}, {window.load}; under "
            f"cProfile the bot spent {window.per(result.updates):.1f} ms CPU per update (its overhead "
            "included)\n"
        )
        print(top_of_profile(stats, result.updates))


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.step_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: ~2-3 minutes")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--updates", type=int, help="updates per saturated scenario (1500; quick 300)")
    parser.add_argument(
        "--single-updates", type=int, help="updates of the one-at-a-time scenarios (500; quick 150)"
    )
    parser.add_argument("--phones", type=int, default=40, help="phones in the saturated scenarios")
    parser.add_argument(
        "--repeats", type=int, help="runs of each saturated scenario, the median shown (3; quick 1)"
    )
    parser.add_argument("--teachers", type=int, default=200, help="teachers in the paced scenario")
    parser.add_argument("--rate", type=float, default=11.0, help="steps a second in all, paced scenario")
    parser.add_argument("--duration", type=float, help="seconds of the paced scenario (60; quick 15)")
    parser.add_argument("--reminders", type=int, help="due reminders in the fan-out (2000; quick 400)")
    parser.add_argument(
        "--counted-updates", type=int, help="updates per scenario under callgrind (300; quick 100)"
    )
    parser.add_argument(
        "--counted-phones",
        type=int,
        default=1,
        help="phones under callgrind (1: one update at a time; 40: as many in flight as the saturated runs)",
    )
    parser.add_argument("--profile", metavar="FILE", help="keep the profile's pstats in FILE")
    parser.add_argument("--profile-updates", type=int, help="search steps profiled (3000; quick 1000)")
    parser.add_argument("--profile-backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    args.updates = args.updates or (240 if args.quick else 1500)
    args.single_updates = args.single_updates or (150 if args.quick else 500)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.duration = args.duration or (15.0 if args.quick else 60.0)
    args.reminders = args.reminders or (400 if args.quick else 2000)
    args.counted_updates = args.counted_updates or (100 if args.quick else 300)
    args.profile_updates = args.profile_updates or (1000 if args.quick else 3000)
    return args


def main() -> None:
    args = options()
    print(machine(), flush=True)
    asyncio.run(measure(args))


async def measure(args: argparse.Namespace) -> Run:
    run = Run()
    postgres = await db.postgres_available()
    backends = [b for b in args.backends if b == "sqlite" or postgres]
    if not postgres and "postgresql" in args.backends:
        print("  PostgreSQL is not reachable: SQLite only", flush=True)
    if {"echo", "product", "paced"} & set(args.only):
        print(HEAD, flush=True)
        await conversation(run, args, backends)
    if "reminders" in args.only:
        run.fanouts.append(await fanout("sqlite", args.reminders))
    if "instructions" in args.only:
        if callgrind_available():
            print(f"\nUnder callgrind, {args.counted_phones} phone(s); {load()}\n\n{COUNT_HEAD}", flush=True)
            with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
                folder = Path(tmp)
                run.counts = await instructions(folder, backends, args.counted_updates, args.counted_phones)
        else:
            print("  valgrind is not installed: no instruction counts", flush=True)
    print()
    if run.results:
        print(HEAD)
        for result in run.results:
            print(row(result, run.baseline(result)))
        for result in run.results:
            if result.by_step and result.scenario != "echo, paced":
                print(f"\n{result.scenario} on {result.backend}, p95 by step: {steps_note(result)}")
    if run.fanouts:
        print()
        print(FANOUT_HEAD)
        for f in run.fanouts:
            print(fanout_row(f))
    if run.counts:
        print(f"\ninstructions per update (callgrind, {args.counted_phones} phone(s)):\n\n{COUNT_HEAD}")
        for c in run.counts:
            print(count_row(c, run.counts[0]))
    if "profile" in args.only:
        await profile(args)
    return run


if __name__ == "__main__":
    main()
