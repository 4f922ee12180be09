"""Sends due reminder rows through python-telegram-bot's Bot: claim, send, mark; never above Telegram's limits.

Delivery is at-least-once towards Telegram and exactly-once in effect:
- a row is claimed (storage.outbox.claim_due) before it is sent, so no two workers send it together;
- after sending, the row is marked sent with the Telegram message id, guarded by "still claimed by me";
- if the process dies between claim and mark, the row stays "claimed" until the lease runs out and is
  then sent by whichever worker claims it next (that is the "at least once");
- right before the HTTP call the worker checks that its lease still has LEASE_MARGIN left (and, in a
  scheduler, that its process still leads: app.leadership), and gives the row back otherwise, so a slow
  (not dead) worker never sends a row another worker may already own.
The only duplicate left is a crash after Telegram accepted the message and before the mark committed
(a few milliseconds); the Bot API offers no idempotency key to close that gap.

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

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from bot.context import CHANNEL
from bot.limits import SendLimiter, retry_after
from bot.render import callback_data
from domain.clock import Clock
from domain.messages import Message, Msg
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
from i18n import t
from ops.metrics import RATE_LIMITED, REMINDERS
from storage import outbox
from storage.models import Reminder
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
LEASE_MARGIN = timedelta(seconds=15)
QUICK_FAILURES = 3  # 5xx/timeouts retried in place before the row goes back with a longer pause
UNREACHABLE_400 = ("chat not found", "user not found", "chat_id is empty", "peer_id_invalid")


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def render(message: Message, language: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """Catalog text in the recipient's language, and the inline keyboard."""

    def text(msg: Msg) -> str:
        params = {k: text(v) if isinstance(v, Msg) else v for k, v in msg.params.items()}
        return t(language, msg.key, **params)

    body = "\n".join(text(m) for m in message.lines)
    if not message.buttons:
        return body, None
    rows = [
        [InlineKeyboardButton(text(label), callback_data=callback_data(action)) for label, action in row]
        for row in message.buttons
    ]
    return body, InlineKeyboardMarkup(rows)


class LeaseLost(Exception):
    """The claim is too old to send safely, or this process no longer leads; another worker may take the row."""


def _always() -> bool:
    return True


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, RetryAfter) or (isinstance(exc, NetworkError) and not isinstance(exc, BadRequest))


class ReminderSender:
    """Claims due rows and sends them; `drain()` returns when nothing due is left (or in quiet hours)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        bot: Bot,
        *,
        policy: Policy,
        tz: Any,
        clock: Clock,
        default_language: str = "zh_CN",
        worker: str | None = None,
        limiter: SendLimiter | None = None,
        batch: int = 50,
        per_recipient: int = 5,
        retry_pause: float = 0.5,
    ) -> None:
        self.uow, self.bot, self.policy, self.tz, self.clock = uow, bot, policy, tz, clock
        self.default_language = default_language
        self.worker = worker or worker_name()
        r = policy.reminders
        self.limiter = limiter or SendLimiter(r.messages_per_second, 1.0, r.per_chat_interval.total_seconds())
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
            )
            await uow.commit()
        if delivery is None:
            return
        if delivery.to.channel != CHANNEL:  # another channel's sender handles it (none runs yet: unreachable)
            async with self.uow() as uow:
                await record_unreachable(
                    uow, row, self.worker, "channel_not_configured", now=now, policy=self.policy, tz=self.tz
                )
                await uow.commit()
            return
        self.touched_cases.update(m.case_id for m in delivery.members if m.case_id is not None)
        text, markup = render(delivery.message, delivery.language)
        tries = {"failures": 0}
        try:
            message_id = await self._send(delivery, text, markup, tries, keep_going)
        except LeaseLost:
            async with self.uow() as uow:
                await release(uow, row, self.worker)
                await uow.commit()
            return
        except TelegramError as exc:
            await self._failed(row, exc, tries["failures"])
            return
        async with self.uow() as uow:
            if not await record_sent(uow, delivery, self.worker, message_id, self.clock.now()):
                log.warning("reminder %s was sent but its claim had passed to another worker", row.id)
            await uow.commit()
        self.sent += 1
        REMINDERS.labels("sent").inc()

    async def _send(
        self,
        delivery: Delivery,
        text: str,
        markup: InlineKeyboardMarkup | None,
        tries: dict[str, int],
        keep_going: Callable[[], bool],
    ) -> str:
        """One message, retried in place on 429 (after retry_after; not counted as a failure) and on
        5xx/timeouts (growing pauses, up to QUICK_FAILURES)."""
        row, chat_id = delivery.row, int(delivery.to.conversation)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryAfter):
                return retry_after(exc)
            return float(self.retry_pause * 2 ** max(0, tries["failures"] - 1))

        def stop(state: RetryCallState) -> bool:
            return tries["failures"] >= QUICK_FAILURES

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient), wait=wait, stop=stop, reraise=True
        ):
            with attempt:
                await self.limiter.wait(chat_id)
                claimed_at = row.claimed_at or self.clock.now()
                if (
                    self.clock.now() >= claimed_at + self.policy.reminders.claim_lease - LEASE_MARGIN
                    or not keep_going()
                ):
                    raise LeaseLost(row.id)
                try:
                    sent = await self.bot.send_message(chat_id, text, reply_markup=markup)
                except RetryAfter as exc:
                    RATE_LIMITED.labels("reminders").inc()
                    self.limiter.penalise(chat_id, retry_after(exc))
                    raise
                except NetworkError as exc:
                    if not isinstance(exc, BadRequest):
                        tries["failures"] += 1
                    raise
                return str(sent.message_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _failed(self, row: Reminder, exc: TelegramError, failures: int) -> None:
        now = self.clock.now()
        error = f"{type(exc).__name__}: {exc}"
        async with self.uow() as uow:
            if isinstance(exc, Forbidden) or (
                isinstance(exc, BadRequest) and any(s in str(exc).lower() for s in UNREACHABLE_400)
            ):
                told = await record_unreachable(
                    uow,
                    row,
                    self.worker,
                    error,
                    now=now,
                    policy=self.policy,
                    tz=self.tz,
                    blocked=isinstance(exc, Forbidden),
                )
                log.info("reminder %s: recipient unreachable; %d told instead", row.id, len(told))
                REMINDERS.labels("unreachable").inc()
            else:
                permanent = isinstance(exc, BadRequest) or not _transient(exc)
                await record_failure(
                    uow,
                    row,
                    self.worker,
                    error,
                    now=now,
                    policy=self.policy,
                    tz=self.tz,
                    permanent=permanent,
                    extra_attempts=max(0, failures - 1),
                )
                REMINDERS.labels("failed").inc()
            await uow.commit()
