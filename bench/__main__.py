"""`python -m bench`: every benchmark of issue 8, then one table of figures, targets and ratios.

Quick run (about 15 minutes): `.venv/bin/python -m bench`
Full run as recorded in bench/RESULTS.md: `.venv/bin/python -m bench --reminders 10000 --cases 1000000`
One part: `--only throughput latency` (throughput, latency, reminders, province). Photos: bench.bench_photos.
Needs PostgreSQL at 127.0.0.1:5432 (TEST_POSTGRES_DSN, as the tests); scratch databases are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_conversation import floor, latency, throughput
from bench.bench_province import province
from bench.bench_reminders import fanout, two_schedulers
from bench.harness import Table
from tests import db

PARTS = ("throughput", "latency", "reminders", "province")


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor(),
    )
    memory = next((line.split()[1] for line in meminfo if line.startswith("MemTotal")), "0")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPU ({cpu}) · "
        f"{int(memory) / 2**20:.0f} GiB RAM · Python {platform.python_version()} · load avg {load}"
    )


async def run(args: argparse.Namespace) -> Table:
    table = Table()
    postgres = await db.postgres_available()
    backends = [b for b in args.backends if b == "sqlite" or postgres]
    if "throughput" in args.only:
        for backend in backends:
            await throughput(backend, table, phones_n=args.phones)
    if "latency" in args.only:
        for backend in backends:
            await floor(backend, table)
            await latency(backend, table, teachers_n=args.teachers, think=tuple(args.think))
    if "reminders" in args.only:
        await fanout(table, "sqlite", args.reminders)
        await two_schedulers(table, "sqlite", args.reminders)
    if "province" in args.only:
        if postgres:
            await province(table, args.cases)
        else:
            table.add("province", "postgresql", "all", "n/a (PostgreSQL not reachable)")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--phones", type=int, default=40, help="concurrent phones in the throughput run")
    parser.add_argument(
        "--teachers", type=int, default=200, help="teachers working at once in the latency run"
    )
    parser.add_argument(
        "--think",
        nargs=2,
        type=float,
        default=[5.0, 20.0],
        metavar=("MIN", "MAX"),
        help="seconds a teacher takes between steps (uniform)",
    )
    parser.add_argument(
        "--reminders", type=int, default=2000, help="due reminders in the fan-out (full: 10000)"
    )
    parser.add_argument("--cases", type=int, default=100_000, help="generated cases (full: 1000000)")
    args = parser.parse_args()
    print(machine(), flush=True)
    table = asyncio.run(run(args))
    print()
    print(table.render())


if __name__ == "__main__":
    main()
