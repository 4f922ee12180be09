"""Sends due reminder rows on each person's channel (bot.messenger.Messengers): claim, send, mark; never
above a channel's limits (each channel paces with its own limiter).

Delivery is at-least-once towards the channel and exactly-once in effect:
- a row is claimed (storage.outbox.claim_due) before it is sent, so no two workers send it together;
- after sending, the row is marked sent with the channel's message id, guarded by "still claimed by me";
- if the process dies between claim and mark, the row stays "claimed" until the lease runs out and is
  then sent by whichever worker claims it next (that is the "at least once");
- right before the HTTP call the worker checks that its lease still has LEASE_MARGIN left (and, in a
  scheduler, that its process still leads: app.leadership), and gives the row back otherwise, so a slow
  (not dead) worker never sends a row another worker may already own.
Two duplicates are left, and neither the Bot API nor WeCom offers an idempotency key to close them: a
crash after the channel accepted the message and before the mark committed (a few milliseconds), and a
call that timed out on our side after the channel had accepted it (sent again on the retry). Both are
kept on purpose: a reminder read twice costs less than one never sent.

Quiet hours are applied twice: planning stores send_after = the first allowed moment at or after the
due time, and `drain` sends nothing while it is quiet, which covers rows that fell due during a downtime
that ended at night (they go out when the quiet period ends, not skipped).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from bot.messenger import ChannelMessenger, Messengers
from domain.clock import Clock
from domain.messages import RateLimited, SendFailed, Unreachable
from domain.policy import Policy
from domain.reminders.delivery import (
    Delivery,
    prepare,
    record_failure,
    record_sent,
    record_unreachable,
    release,
)
from domain.reminders.quiet_hours import is_quiet
from ops.metrics import REMINDERS
from storage import outbox
from storage.models import Reminder
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
LEASE_MARGIN = timedelta(seconds=15)
QUICK_FAILURES = 3  # 5xx/timeouts retried in place before the row goes back with a longer pause


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLost(Exception):
    """The claim is too old to send safely, or this process no longer leads; another worker may take the row."""


def _always() -> bool:
    return True


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, RateLimited) or (isinstance(exc, SendFailed) and exc.transient)


class ReminderSender:
    """Claims due rows and sends them; `drain()` returns when nothing due is left (or in quiet hours)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        messengers: Messengers,
        *,
        policy: Policy,
        tz: Any,
        clock: Clock,
        default_language: str = "zh_CN",
        worker: str | None = None,
        batch: int = 50,
        per_recipient: int = 5,
        retry_pause: float = 0.5,
    ) -> None:
        self.uow, self.messengers, self.policy, self.tz, self.clock = uow, messengers, policy, tz, clock
        self.default_language = default_language
        self.worker = worker or worker_name()
        self.batch, self.per_recipient, self.retry_pause = batch, per_recipient, retry_pause
        self.sent = 0
        # Cases whose reminders were settled by this sender: replanned after each drain, so a step that
        # stays overdue always has its next reminder pending (domain.reminders.rules.repeats).
        self.touched_cases: set[int] = set()
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def claim(self, limit: int) -> list[Reminder]:
        async with self.uow() as uow:
            rows = await outbox.claim_due(
                uow.session,
                worker=self.worker,
                now=self.clock.now(),
                lease=self.policy.reminders.claim_lease,
                limit=limit,
                per_recipient=self.per_recipient,
            )
            await uow.commit()
        return rows

    async def drain(self, keep_going: Callable[[], bool] = _always) -> int:
        """Sends everything due now, keeping up to `batch` rows in flight. Returns how many were sent.
        Once `keep_going()` is false (the process stopped leading) nothing more is claimed or sent: rows
        claimed and not yet sent are given back."""
        before = self.sent
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping and (in_flight or keep_going()):
                if not in_flight and is_quiet(self.clock.now(), self.policy, self.tz):
                    break
                wanted = (
                    self.batch - len(in_flight) if len(in_flight) <= self.batch // 2 and keep_going() else 0
                )
                rows = await self.claim(wanted) if wanted else []
                in_flight |= {asyncio.create_task(self._deliver(row, keep_going)) for row in rows}
                if not in_flight:
                    break
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is not None:
                        log.error("reminder delivery crashed", exc_info=task.exception())
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        return self.sent - before

    async def _deliver(self, row: Reminder, keep_going: Callable[[], bool]) -> None:
        if row.case_id is not None:
            self.touched_cases.add(row.case_id)
        now = self.clock.now()
        async with self.uow() as uow:
            if row.attempts > self.policy.reminders.max_attempts:
                await record_failure(
                    uow,
                    row,
                    self.worker,
                    row.last_error or "too many attempts",
                    now=now,
                    policy=self.policy,
                    tz=self.tz,
                    permanent=True,
                )
                await uow.commit()
                return
            delivery = await prepare(
                uow,
                row,
                self.worker,
                now=now,
                policy=self.policy,
                tz=self.tz,
                default_language=self.default_language,
                channels=tuple(self.messengers.by_channel),
            )
            await uow.commit()
        if delivery is None:
            return
        messenger = self.messengers.of(delivery.to)  # prepare() chose among the channels this sender runs
        self.touched_cases.update(m.case_id for m in delivery.members if m.case_id is not None)
        tries = {"failures": 0}
        try:
            message_id = await self._send(messenger, delivery, tries, keep_going)
        except LeaseLost:
            async with self.uow() as uow:
                await release(uow, row, self.worker)
                await uow.commit()
            return
        except (Unreachable, SendFailed) as exc:
            await self._failed(row, exc, tries["failures"], delivery.to.channel)
            return
        async with self.uow() as uow:
            if not await record_sent(uow, delivery, self.worker, message_id, self.clock.now()):
                log.warning("reminder %s was sent but its claim had passed to another worker", row.id)
            await uow.commit()
        self.sent += 1
        REMINDERS.labels("sent").inc()

    async def _send(
        self,
        messenger: ChannelMessenger,
        delivery: Delivery,
        tries: dict[str, int],
        keep_going: Callable[[], bool],
    ) -> str:
        """One message, retried in place when the channel asks to wait (after retry_after; not counted as
        a failure) and on 5xx/timeouts (growing pauses, up to QUICK_FAILURES)."""
        row, to = delivery.row, delivery.to

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited):
                return exc.retry_after
            return float(self.retry_pause * 2 ** max(0, tries["failures"] - 1))

        def stop(state: RetryCallState) -> bool:
            return tries["failures"] >= QUICK_FAILURES

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient), wait=wait, stop=stop, reraise=True
        ):
            with attempt:
                await messenger.pace(to)
                claimed_at = row.claimed_at or self.clock.now()
                if (
                    self.clock.now() >= claimed_at + self.policy.reminders.claim_lease - LEASE_MARGIN
                    or not keep_going()
                ):
                    raise LeaseLost(row.id)
                try:
                    return await messenger.send(to, delivery.message, delivery.language)
                except RateLimited as exc:
                    messenger.hold(to, exc.retry_after)
                    raise
                except SendFailed as exc:
                    if exc.transient:
                        tries["failures"] += 1
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _failed(
        self, row: Reminder, exc: Unreachable | SendFailed, failures: int, channel: str
    ) -> None:
        now = self.clock.now()
        async with self.uow() as uow:
            if isinstance(exc, Unreachable):
                told = await record_unreachable(
                    uow,
                    row,
                    self.worker,
                    exc.reason,
                    now=now,
                    policy=self.policy,
                    tz=self.tz,
                    blocked=exc.blocked,
                    channel=channel,
                )
                log.info("reminder %s: recipient unreachable; %d told instead", row.id, len(told))
                REMINDERS.labels("unreachable").inc()
            else:
                await record_failure(
                    uow,
                    row,
                    self.worker,
                    exc.reason,
                    now=now,
                    policy=self.policy,
                    tz=self.tz,
                    permanent=not exc.transient,
                    extra_attempts=max(0, failures - 1),
                )
                REMINDERS.labels("failed").inc()
            await uow.commit()
