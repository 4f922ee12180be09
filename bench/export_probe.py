"""One ledger export in a fresh process, so its peak memory is its own:
`python -m bench.export_probe DATABASE_URL KIND FORMAT` prints JSON (rows, seconds, peak RSS, and the
peak RSS of the .xlsx writer process it starts)."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from app.container import build_services
from app.settings import load_settings
from domain.audit import Actor
from domain.people.scope import scope_for
from domain.reports.ledgers import export_ledger
from storage.reporting import CaseFilter


def high_water_mib() -> float:
    """Peak resident memory of this process image (VmHWM). Not ru_maxrss: after fork and exec that one
    still counts the parent's memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_hwm_mib(pid: str) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # already gone
        return 0.0
    return next(
        (int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0
    )


class ChildPeak(threading.Thread):
    """Samples the peak RSS of this process's children (the .xlsx writer) until stopped. VmHWM only
    grows, so the last sample of a child is its peak up to then."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stopped = 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            for children in Path("/proc/self/task").glob("*/children"):
                for pid in children.read_text().split():
                    self.peak = max(self.peak, _vm_hwm_mib(pid))


async def main(url: str, kind: str, fmt: str) -> dict[str, float]:
    services = build_services(load_settings(database_url=url))
    baseline = high_water_mib()
    children = ChildPeak()
    children.start()
    try:
        with tempfile.TemporaryDirectory(prefix="nol_export_") as folder:
            path = Path(folder) / f"ledger.{fmt}"
            started = time.perf_counter()
            async with services.uow() as uow:
                admin = await uow.directory.staff(1)
                assert admin is not None
                rows = await export_ledger(
                    uow,
                    await scope_for(uow, admin),
                    Actor(admin.id, "bench"),
                    kind,
                    fmt,
                    path,
                    CaseFilter(),
                    now=services.clock.now(),
                    tz=services.tz,
                    pii=False,
                )
                await uow.commit()
            seconds = time.perf_counter() - started
            size = path.stat().st_size
    finally:
        await services.close()
        children.stopped.set()
        children.join()
    peak = high_water_mib()
    return {
        "rows": rows,
        "seconds": seconds,
        "peak_mib": peak,
        "baseline_mib": baseline,
        "bytes": size,
        "writer_peak_mib": children.peak,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
