"""Fault injection: scripted failures for the next N calls and a seedable random failure mode."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = ("500", "502", "429", "delay", "drop", "timeout")


@dataclass
class Fault:
    """One failure to apply to a call: an HTTP error, a delay, or a dropped connection."""

    kind: str
    retry_after: int = 1
    delay: float = 0.0


@dataclass
class _Scripted:
    method: str
    fault: Fault
    remaining: int


@dataclass
class RandomFaults:
    """Fail a share of calls with a weighted mix of kinds; seedable for repeatable benchmarks."""

    rate: float
    kinds: dict[str, float]
    methods: frozenset[str] | None
    retry_after: int
    delay: float
    rng: random.Random


class FaultInjector:
    """Holds scripted and random faults and counts what it injected."""

    def __init__(self) -> None:
        self._scripted: list[_Scripted] = []
        self._random: RandomFaults | None = None
        self.injected: Counter[str] = Counter()

    def inject(
        self, method: str, kind: str, count: int = 1, *, retry_after: int = 1, delay: float = 0.0
    ) -> None:
        """Make the next `count` calls of `method` ("*" for any) fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        self._scripted.append(_Scripted(method.lower(), Fault(kind, int(retry_after), float(delay)), count))

    def set_random(
        self,
        rate: float,
        *,
        seed: int | None = None,
        kinds: dict[str, float] | None = None,
        methods: list[str] | None = None,
        retry_after: int = 1,
        delay: float = 6.0,
    ) -> None:
        """Fail about `rate` (0..1) of calls; kinds default to an even mix of 429, 500 and timeout."""
        kinds = kinds or {"429": 1.0, "500": 1.0, "timeout": 1.0}
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        self._random = RandomFaults(
            float(rate),
            dict(kinds),
            frozenset(m.lower() for m in methods) if methods else None,
            int(retry_after),
            float(delay),
            random.Random(seed),
        )

    def clear(self) -> None:
        """Remove every scripted and random fault."""
        self._scripted.clear()
        self._random = None

    def next_fault(self, method: str) -> Fault | None:
        """Return the fault for this call, if any, and use it up."""
        name = method.lower()
        for scripted in self._scripted:
            if scripted.method in ("*", name) and scripted.remaining > 0:
                scripted.remaining -= 1
                if scripted.remaining == 0:
                    self._scripted.remove(scripted)
                self.injected[scripted.fault.kind] += 1
                return scripted.fault
        chaos = self._random
        if chaos is None or (chaos.methods is not None and name not in chaos.methods):
            return None
        if chaos.rng.random() >= chaos.rate:
            return None
        kind = chaos.rng.choices(list(chaos.kinds), weights=list(chaos.kinds.values()))[0]
        self.injected[kind] += 1
        return Fault(kind, chaos.retry_after, chaos.delay)

    def stats(self) -> dict[str, Any]:
        """Return what is scheduled and what was injected so far."""
        return {
            "scheduled": [
                {"method": s.method, "kind": s.fault.kind, "remaining": s.remaining} for s in self._scripted
            ],
            "random_rate": self._random.rate if self._random else 0.0,
            "injected": dict(self.injected),
        }
