"""Scripted failures of the WeCom emulator: the next N calls of a path answer busy, rate-limited, 5xx,
or late."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# kind -> errcode answered with HTTP 200, as WeCom does; "500" and "timeout" are HTTP-level.
ERRCODES = {"busy": -1, "rate_limit": 45009, "concurrency": 45033}
KINDS = (*ERRCODES, "500", "timeout")


@dataclass
class Fault:
    path: str
    kind: str
    remaining: int
    delay: float


class Faults:
    """`inject("message/send", "busy", count=2)`; path "*" matches every call."""

    def __init__(self) -> None:
        self._scripted: list[Fault] = []
        self.injected: Counter[str] = Counter()

    def inject(self, path: str, kind: str, count: int = 1, *, delay: float = 6.0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {KINDS}")
        self._scripted.append(Fault(path.strip("/"), kind, count, delay))

    def clear(self) -> None:
        self._scripted.clear()

    def next_fault(self, path: str) -> Fault | None:
        """The fault for this call, if any, used up."""
        for fault in self._scripted:
            if fault.path in ("*", path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._scripted.remove(fault)
                self.injected[fault.kind] += 1
                return fault
        return None
