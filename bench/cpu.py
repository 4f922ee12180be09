"""CPU time of processes, read from /proc (Linux): what a benchmark charges to the bot, the emulator, the
phones and PostgreSQL. CPU time (utime + stime) stays fairly stable on a shared machine where wall-clock
figures do not, so it is the figure to compare."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

TICK = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all its threads), in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # after "pid (comm)": state is fields[0], utime and stime are the 14th and 15th fields overall
    return (int(fields[11]) + int(fields[12])) * TICK


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes), as a short note."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Meter:
    """CPU seconds spent by a set of processes between `start()` and `stop()`. Processes that appear in
    between (e.g. a new PostgreSQL backend) count from zero."""

    pids: Iterable[int] = ()
    before: dict[int, float] = field(default_factory=dict)
    spent: float = 0.0

    def start(self, pids: Iterable[int] | None = None) -> None:
        self.before = {pid: cpu_seconds(pid) for pid in (self.pids if pids is None else pids)}

    def stop(self, pids: Iterable[int] | None = None) -> float:
        now = {pid: cpu_seconds(pid) for pid in (self.pids if pids is None else pids)}
        self.spent = sum(now[pid] - self.before.get(pid, 0.0) for pid in now)
        return self.spent
