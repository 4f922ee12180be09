"""In-process throttle of POST /login: a token bucket per client address and a bound on the logins
waiting for a hashing slot (global for the process). Answers are 429 with Retry-After.

Per worker process on purpose: with several uvicorn workers each keeps its own buckets, so the
per-address rate is at most workers x the setting; nginx's limit_req on /login (deploy/nginx.conf)
holds the whole deployment to one rate. The lock-out after repeated failures, which must hold across
workers, is in the database (domain.people.webauth)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from time import monotonic

from domain.people.webauth import HASH_THREADS

_TRACKED_ADDRESSES = 4096  # above this, addresses whose bucket has refilled are forgotten


class LoginBusy(Exception):
    """Too many logins already wait for a hashing slot in this process."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class LoginThrottle:
    """`per_minute` attempts per address (a burst of as many, refilled evenly over the minute); at most
    HASH_THREADS logins check passwords at once, and at most `waiting` more queue behind them."""

    def __init__(self, per_minute: int, waiting: int) -> None:
        self.capacity, self.rate = float(per_minute), per_minute / 60.0
        self.limit = HASH_THREADS + waiting
        self._buckets: dict[str, _Bucket] = {}
        self._slots = asyncio.Semaphore(HASH_THREADS)
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Logins checking a password now or queued for a slot."""
        return self._in_flight

    def retry_after(self, address: str | None) -> int:
        """0 and one attempt taken when `address` may try now; else the seconds until it may."""
        now = monotonic()
        key = address or ""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_refilled(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def _forget_refilled(self, now: float) -> None:
        if len(self._buckets) < _TRACKED_ADDRESSES:
            return
        full = self.capacity / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.at >= full]:
            del self._buckets[key]
        if len(self._buckets) >= _TRACKED_ADDRESSES:  # a flood from that many addresses: start afresh
            self._buckets.clear()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds one of the HASH_THREADS login slots (queued behind at most `waiting` others), so the
        queue of a flood waits here, holding no database connection; raises LoginBusy beyond that."""
        if self._in_flight >= self.limit:
            raise LoginBusy()
        self._in_flight += 1
        try:
            async with self._slots:
                yield
        finally:
            self._in_flight -= 1
