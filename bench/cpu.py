"""CPU time of processes, read from /proc (Linux): what a benchmark charges to the bot, the emulator, the
phones and PostgreSQL. CPU time (utime + stime) stays fairly stable on a shared machine where wall-clock
figures do not, so it is the figure to compare."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

TICK = 1.0 / os.sysconf("SC_CLK_TCK")


def _times(pid: int) -> tuple[float, float]:
    """utime and stime of a whole process (all its threads), in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    # after "pid (comm)": state is fields[0], utime and stime are the 14th and 15th fields overall
    return int(fields[11]) * TICK, int(fields[12]) * TICK


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process, in seconds."""
    return sum(_times(pid))


def kernel_seconds(pid: int) -> float:
    """stime alone: the kernel's work for the process's system calls (sockets, files), which an
    instruction count of the process (callgrind) does not see."""
    return _times(pid)[1]


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes), as a short note."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Meter:
    """CPU seconds spent by a set of processes between `start()` and `stop()`. Processes that appear in
    between (e.g. a new PostgreSQL backend) count from zero."""

    pids: Iterable[int] = ()
    read: Callable[[int], float] = cpu_seconds
    before: dict[int, float] = field(default_factory=dict)
    spent: float = 0.0

    def start(self, pids: Iterable[int] | None = None) -> None:
        self.before = {pid: self.read(pid) for pid in (self.pids if pids is None else pids)}

    def stop(self, pids: Iterable[int] | None = None) -> float:
        now = {pid: self.read(pid) for pid in (self.pids if pids is None else pids)}
        self.spent = sum(now[pid] - self.before.get(pid, 0.0) for pid in now)
        return self.spent
