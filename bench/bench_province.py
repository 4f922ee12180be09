"""Province scale on PostgreSQL: generate cases with events, time the dashboard overview and a ledger export."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Table, percentile, scratch_database, services_for
from bench.province import generate
from domain.people.scope import scope_for
from domain.reports.overview_snapshots import refresh
from domain.reports.stats import OVERDUE_RULES, overview
from storage.reporting import CaseFilter, ReportingRepository
from tests.drills.procs import ROOT


async def _overview_times(url: str, staff_id: int, runs: int, snapshot: bool) -> list[float]:
    """Seconds per overview (scope included) as the dashboard computes it, from the snapshot or live."""
    services = services_for(url, Path(tempfile.gettempdir()))
    max_age = services.settings.overview_snapshot_max_age if snapshot else None
    times = []
    try:
        for _ in range(runs + 1):  # the first run warms the pool and the caches; not counted
            started = time.perf_counter()
            async with services.uow() as uow:
                staff = await uow.directory.staff(staff_id)
                assert staff is not None
                numbers = await overview(
                    uow,
                    await scope_for(uow, staff),
                    now=services.clock.now(),
                    tz=services.tz,
                    snapshot_max_age=max_age,
                )
                assert (numbers.as_of is not None) == snapshot
            times.append(time.perf_counter() - started)
    finally:
        await services.close()
    return times[1:]


async def _case_list_times(url: str, staff_id: int, runs: int) -> list[float]:
    """Seconds for the first page of the dashboard's case list (total count included), newest first."""
    services = services_for(url, Path(tempfile.gettempdir()))
    times = []
    try:
        for _ in range(runs + 1):
            started = time.perf_counter()
            async with services.uow() as uow:
                staff = await uow.directory.staff(staff_id)
                assert staff is not None
                await ReportingRepository(uow.session).case_page(
                    await scope_for(uow, staff),
                    CaseFilter(),
                    services.clock.now(),
                    OVERDUE_RULES,
                    limit=50,
                    offset=0,
                )
            times.append(time.perf_counter() - started)
    finally:
        await services.close()
    return times[1:]


async def _refresh(url: str) -> float:
    services = services_for(url, Path(tempfile.gettempdir()))
    try:
        done = await refresh(
            services.uow,
            now=services.clock.now(),
            tz=services.tz,
            live_max_cases=services.settings.overview_live_max_cases,
        )
    finally:
        await services.close()
    return done.seconds


async def _export(url: str, kind: str, fmt: str) -> dict[str, float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.export_probe", url, kind, fmt, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(child.communicate(), timeout=900)
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


async def province(table: Table, cases: int, runs: int = 5) -> None:
    ledger_rows = min(100_000, cases // 2)
    async with scratch_database("postgresql") as url:
        dsn = "postgresql://" + url.split("://", 1)[1]
        started = time.perf_counter()
        counts = await generate(dsn, cases, ledger_rows)
        seconds = time.perf_counter() - started
        table.add(
            "province",
            "postgresql",
            "generate (COPY)",
            f"{seconds:.0f} s",
            note=f"{counts['cases']:,} cases, {counts['events']:,} events, {counts['schools']} schools",
        )
        seconds = await _refresh(url)
        table.add(
            "province",
            "postgresql",
            "overview snapshots refresh",
            f"{seconds:.1f} s",
            note="the scheduler's pass over every case (every OVERVIEW_REFRESH_SECONDS)",
        )
        for who, staff_id in (("whole province (admin)", 1), ("one county (officer)", 2)):
            for snapshot in (True, False):
                times = await _overview_times(url, staff_id, runs, snapshot)
                p95 = percentile(times, 0.95)
                how = "from the snapshot" if snapshot else "counted live"
                table.add(
                    "province",
                    "postgresql",
                    f"overview, {who}, {how}",
                    f"median {statistics.median(times) * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms",
                    target="≤ 300 ms" if snapshot else "",
                    note=(("PASS" if p95 <= 0.3 else "above target") + f"; {runs} runs")
                    if snapshot
                    else f"the fallback when the snapshot is older than its max age; {runs} runs",
                )
            times = await _case_list_times(url, staff_id, runs)
            table.add(
                "province",
                "postgresql",
                f"case list, first page, {who}",
                f"median {statistics.median(times) * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms",
                note=f"50 rows and the total; {runs} runs",
            )
        for fmt in ("csv", "xlsx"):
            probe = await _export(url, "dropout", fmt)
            writer = probe.get("writer_peak_mib", 0)  # the .xlsx writer process
            ok = probe["seconds"] <= 15 and probe["peak_mib"] + writer <= 300
            table.add(
                "province",
                "postgresql",
                f"ledger export .{fmt}",
                f"{probe['seconds']:.1f} s, peak RSS {probe['peak_mib']:.0f} MiB"
                + (f" + writer process {writer:.0f} MiB" if writer else ""),
                target="≤ 15 s / ≤ 300 MB",
                note=("PASS" if ok else "above target")
                + f"; {int(probe['rows']):,} rows, {probe['bytes'] / 1e6:.0f} MB, "
                f"process baseline {probe['baseline_mib']:.0f} MiB",
            )
