"""Telegram's message budget: about 30 messages a second for the whole bot, about one a second per chat.

One `SendLimiter` per process (Services.send_limiter) serves the bot's replies and the reminder sender.
On PostgreSQL the bot-wide part is shared by every process of the bot (webhook workers, schedulers):
each message takes the next slot from one database row (storage.send_budget), so three workers under one
burst together stay at the configured rate instead of each sending at it. A process leases `LEASE` slots
per round trip and hands them to its next messages; a leased slot that has passed unused is dropped, not
sent late, so the processes together never exceed the rate. On SQLite the product runs as one process and
the budget is the process's own. Per-chat pacing is per process either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from ops.metrics import RATE_LIMITED
from storage.send_budget import take_slots

log = logging.getLogger(__name__)
BUDGET = "telegram"  # the send_budget row of the bot
# Messages that may go at once before the rate applies: a form's error and its question together, while
# three of them stay far below Telegram's (and the emulator's) burst of 30.
BURST = 3.0
# Slots of the shared budget a process takes per database round trip: a burst costs one UPDATE per four
# messages; the slots a quiet process leaves unused hold another process's next message back by at most
# (LEASE - BURST) intervals.
LEASE = 4
# Pauses before retrying a reply that failed with a 5xx, a timeout or a lost connection.
FAILURE_PAUSES = (0.5, 1.0, 2.0)


def retry_after(exc: BaseException) -> float:
    """Seconds a 429 asks to wait: a timedelta, as PTB_TIMEDELTA (set in bot/__init__) asks PTB 22 to
    give it; int seconds only if a deployment turned that off."""
    value: Any = exc.retry_after  # type: ignore[attr-defined]
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class SendLimiter:
    """`rate` messages a second overall and, for paced messages (reminders), one per `chat_interval`
    seconds per chat. A message first waits for its chat to be free, then takes the next global slot; a
    chat that must wait never holds up the global schedule for the others."""

    def __init__(
        self,
        rate: float = 28.0,
        burst: float = 1.0,
        chat_interval: float = 1.0,
        *,
        shared: AsyncEngine | None = None,
        lease: int = LEASE,
    ) -> None:
        self.configure(rate, burst, chat_interval)
        self.shared, self.lease = shared, lease
        self._global_tat = 0.0
        self._leased: deque[float] = deque()  # slots of the shared budget held here, on time.monotonic()
        self._leasing: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._chat_ready: dict[int | str, float] = {}  # pacing of reminders
        self._blocked: dict[int | str, float] = {}  # after a 429, for every message to the chat
        self._shared_failed_at = 0.0

    def configure(self, rate: float, burst: float = 1.0, chat_interval: float = 1.0) -> None:
        self.interval = 1.0 / rate
        self.tolerance = max(0.0, burst - 1.0) * self.interval
        self.chat_interval = chat_interval

    async def wait(self, chat_id: int | str, *, paced: bool = True) -> None:
        """Returns when a message to `chat_id` may be sent without exceeding either limit. Replies are
        not paced per chat (a form's error and its question go together), only held after a 429."""
        while True:
            now = time.monotonic()
            ready = max(self._blocked.get(chat_id, 0.0), self._chat_ready.get(chat_id, 0.0) if paced else 0.0)
            if ready <= now:
                break
            await asyncio.sleep(ready - now)
        if paced:  # reserved before the slot is taken: another message to the chat waits meanwhile
            self._chat_ready[chat_id] = now + self.chat_interval
        at = max(await self._slot(now), time.monotonic())
        if paced:
            self._chat_ready[chat_id] = at + self.chat_interval
        if len(self._chat_ready) > 10_000:  # forget chats whose slot is long past
            self._chat_ready = {c: v for c, v in self._chat_ready.items() if v > now}
            self._blocked = {c: v for c, v in self._blocked.items() if v > now}
        if (delay := at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def _slot(self, now: float) -> float:
        """When (on time.monotonic()) this message may go: by the shared budget, or this process's own."""
        if self.shared is not None and now - self._shared_failed_at > 10.0:
            try:
                return await self._shared_slot(self.shared) - self.tolerance
            except (SQLAlchemyError, OSError) as exc:  # a reply must not wait for the database to come back
                self._shared_failed_at = now
                log.warning("shared send budget unavailable for 10 s, using this process's own: %r", exc)
        at = max(now, self._global_tat - self.tolerance)
        self._global_tat = max(self._global_tat, at) + self.interval
        return at

    async def _shared_slot(self, engine: AsyncEngine) -> float:
        """The next leased slot still ahead; a new lease of `lease` slots when none is. One lease is taken
        at a time, so concurrent messages share it rather than each taking one."""
        async with self._lease_lock():
            now = time.monotonic()
            while self._leased and self._leased[0] < now:
                self._leased.popleft()  # passed unused: another process may already send on later ones
            if not self._leased:
                first, db_now = await take_slots(engine, BUDGET, self.interval, self.lease)
                # The database's clock on ours, taken when the answer is back: a slot lands a little late
                # (the round trip's return), never early.
                offset = time.monotonic() - db_now
                self._leased.extend(first + offset + k * self.interval for k in range(self.lease))
            return self._leased.popleft()

    def _lease_lock(self) -> asyncio.Lock:
        """The lock of the running event loop (a limiter may outlive a loop, e.g. across tests)."""
        loop = asyncio.get_running_loop()
        if self._leasing is None or self._leasing[0] is not loop:
            self._leasing = (loop, asyncio.Lock())
        return self._leasing[1]

    def penalise(self, chat_id: int | str, seconds: float) -> None:
        """After a 429: nothing more to this chat until retry_after has passed."""
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), time.monotonic() + seconds)


def _chat_key(chat_id: object) -> int | None:
    if chat_id is None:
        return None
    try:
        return int(chat_id)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return hash(chat_id)  # an @username


def failed_in_transit(exc: BaseException) -> bool:
    """A 5xx from Telegram's front end, a timeout or a lost connection: worth sending again. A 400
    (BadRequest is a NetworkError in PTB) would fail the same way again."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


class BotRateLimiter(BaseRateLimiter[int]):
    """python-telegram-bot's hook for every Bot API call of the bot's replies (getUpdates aside): calls
    addressed to a chat take a slot of the process's (or the shared) budget; a 429 holds that chat and is
    retried up to `max_retries` times (a per-call override comes as `rate_limit_args`); a 5xx, timeout or
    lost connection is retried after each of `failure_pauses`, so a reply is not lost to one bad moment
    of Telegram's front end. After a timeout the first attempt may have been delivered after all: a
    reply can then arrive twice, which is better than a form that seems to hang."""

    def __init__(
        self, limiter: SendLimiter, max_retries: int = 3, failure_pauses: tuple[float, ...] = FAILURE_PAUSES
    ) -> None:
        self.limiter, self.max_retries, self.failure_pauses = limiter, max_retries, failure_pauses

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = _chat_key(data.get("chat_id"))
        limits = {
            "429": self.max_retries if rate_limit_args is None else rate_limit_args,
            "failed": len(self.failure_pauses),
        }
        tries = {"429": 0, "failed": 0}

        def retryable(exc: BaseException) -> bool:
            kind = "429" if isinstance(exc, RetryAfter) else "failed" if failed_in_transit(exc) else None
            if kind == "429":
                RATE_LIMITED.labels("replies").inc()
            if kind is None or tries[kind] >= limits[kind]:
                return False
            tries[kind] += 1
            return True

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryAfter):
                seconds = retry_after(exc) + 0.1
                log.info("429 on %s: waiting %.1f s before retry %d", endpoint, seconds, tries["429"])
                if chat is None:
                    return seconds
                self.limiter.penalise(chat, seconds)  # the chat's next slot waits instead
                return 0.0
            pause = self.failure_pauses[tries["failed"] - 1]
            log.info("%s failed (%r): retry %d in %.1f s", endpoint, exc, tries["failed"], pause)
            return pause

        async for attempt in AsyncRetrying(retry=retry_if_exception(retryable), wait=wait, reraise=True):
            with attempt:
                if chat is not None:
                    await self.limiter.wait(chat, paced=False)
                try:
                    return await callback(*args, **kwargs)
                except BadRequest as exc:
                    # Redrawing a message as it already is (a double tap, or a retry of an edit that did
                    # arrive): the message shows what it should, so the edit succeeded.
                    if endpoint.startswith("editMessage") and "not modified" in str(exc).lower():
                        return True
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
