"""Polling that loses no update to a kill -9.

python-telegram-bot's Updater confirms a batch to Telegram (the next getUpdates, offset = last + 1) as
soon as it has queued it, so a polling process killed while an update waits or runs would lose it.
Here the bot's getUpdates first stores the batch in the telegram_inbox table (one statement); once an
update has been handled (every handler ran, or its exception went to the error handler) its row is
deleted a second later, in one transaction with the others handled in that second; at start-up, before
polling, the rows a killed process left are handled again, oldest first. A replayed update that was
applied already stores nothing: every handler that stores something records the update id in the same
transaction (the update log, processed_updates) and skips an update it has seen.

Webhook mode keeps no inbox (Telegram gets its 200 only after the update is applied); in both modes
the update log and submitted forms' receipts are pruned here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import NetworkError
from telegram.ext import Application, BaseRateLimiter, ExtBot, SimpleUpdateProcessor
from telegram.request import HTTPXRequest

from bot.context import CHANNEL
from bot.conversations.engine import KEEP_RECEIPT
from bot.ports import BotServices
from ops.log_context import update_id
from ops.metrics import timed_update
from storage.inbox import keep_alone
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)
KEEP_INBOX = timedelta(days=1)  # Telegram itself keeps an unconfirmed update for 24 hours
KEEP_APPLIED = timedelta(days=3)  # longer than any update can come back (a replay or a redelivery)
PRUNE_EVERY = timedelta(hours=1)
# Handled updates are forgotten together, this many seconds after the first of them: under load one
# DELETE a second, not one per batch (a statement and, on PostgreSQL, a round trip each, bench.step_cost).
FORGET_AFTER = 1.0
# Connections for replies and photo downloads. The limiter lets out at most ~28 replies a second, which a
# handful of connections carry; httpcore checks every pooled connection (a poll() each, and a count of the
# idle ones for each) whenever a request starts or ends, so a pool of 256 (ApplicationBuilder's) cost the
# bot a fifth of its CPU per step when 40 chats were busy at once (bench/RESULTS.md, issue 17). A request
# waits up to 10 s for a free connection.
REPLY_CONNECTIONS = 8
# Update ids handed to the application that the inbox remembers: ten of Telegram's largest batches.
HANDED_KEPT = 1000


class InboxUnavailable(NetworkError):
    """The batch could not be stored. It is not confirmed either: the Updater backs off and fetches it again."""


class Inbox:
    def __init__(self, services: BotServices, *, polling: bool, bot_id: int) -> None:
        self.services, self.polling, self.bot_id = services, polling, bot_id
        self._handled: set[int] = set()
        self._replayed: set[int] = set()
        # The updates keep() handed to the application lately (oldest first): Telegram sends again only
        # its last unconfirmed batch, so a bounded record tells a resent update from a lost one.
        self._handed: dict[int, None] = {}
        self._pruned_at: datetime | None = None
        # Whether rows kept before the inbox was keyed by bot (migration 0013) may still be there: checked at
        # start-up (replay); no process writes such rows any more, so once none are left none come back.
        self._legacy = True
        self._writer: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def keep(
        self, updates: Sequence[Update], payloads: Mapping[int, dict[str, Any]] | None = None
    ) -> list[Update]:
        """Stores the batch in one statement; returns the updates to handle now: those not stored before,
        and those stored by an earlier try of this process that failed after the database had kept
        them (the answer lost with the connection: the batch was fetched again). The others are being
        replayed (Telegram sends again what a killed process had stored but not confirmed yet) or were
        handed over already. `payloads` are the updates' JSON as received (by update id), stored as they
        are; an update without one is stored as its to_dict()."""
        raw = payloads or {}
        fetched = {
            u.update_id: raw.get(u.update_id) or u.to_dict()
            for u in updates
            if u.update_id not in self._replayed
        }
        at, alone = self.services.clock.now(), self.services.autocommit
        try:
            if alone is not None and not self._legacy:  # PostgreSQL: one round trip, not three
                new = await keep_alone(alone, fetched, at, channel=CHANNEL, bot_id=self.bot_id)
            else:
                async with self.services.uow() as uow:
                    new = await uow.inbox.keep(
                        fetched, at, channel=CHANNEL, bot_id=self.bot_id, legacy=self._legacy
                    )
                    await uow.commit()
        except SQLAlchemyError as exc:
            raise InboxUnavailable(f"updates not stored ({exc.__class__.__name__})") from exc
        new |= {i for i in fetched if i not in self._handed}  # stored by a try whose answer was lost
        for i in new:
            self._handed[i] = None
        while len(self._handed) > HANDED_KEPT:
            del self._handed[next(iter(self._handed))]
        return [u for u in updates if u.update_id in new]

    def handled(self, update_id: int) -> None:
        """Forgets the update within FORGET_AFTER seconds, with the others handled by then."""
        if self.polling:
            self._handled.add(update_id)
        if (self._handled or self._prune_due()) and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write(FORGET_AFTER))

    async def _write(self, after: float) -> None:
        """Every `after` seconds (at once when closing), forgets what was handled since; returns once
        nothing is left to do."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), after)
            if not (self._handled or self._prune_due()):
                return
            handled, self._handled = self._handled, set()
            try:
                async with self.services.uow() as uow:
                    await uow.inbox.forget(handled, channel=CHANNEL, bot_id=self.bot_id)
                    if self._prune_due():
                        await self._prune(uow)
                    await uow.commit()
            except SQLAlchemyError as exc:  # the rows stay; replayed at the next start, they change nothing
                log.warning("handled updates not forgotten: %r", exc)
                return

    def _prune_due(self) -> bool:
        return self._pruned_at is None or self.services.clock.now() - self._pruned_at >= PRUNE_EVERY

    async def _prune(self, uow: UnitOfWork) -> None:
        now = self.services.clock.now()
        await uow.inbox.prune(now - KEEP_INBOX)
        await uow.updates.prune(now - KEEP_APPLIED)
        await uow.drafts.prune_receipts(now - KEEP_RECEIPT)
        self._pruned_at = now

    async def replay(self, application: Application) -> int:  # type: ignore[type-arg]
        """Queues the updates a previous process left unhandled, oldest first (call it before polling)."""
        async with self.services.uow() as uow:
            await self._prune(uow)
            waiting = await uow.inbox.waiting(channel=CHANNEL, bot_id=self.bot_id)
            self._legacy = await uow.inbox.has_legacy(channel=CHANNEL)
            await uow.commit()
        for payload in waiting:
            update = Update.de_json(payload, application.bot)
            self._replayed.add(update.update_id)  # also once its row is forgotten
            await application.update_queue.put(update)
        if waiting:
            log.info("handling again %d update(s) that the previous process had not finished", len(waiting))
        return len(waiting)

    async def close(self) -> None:
        """Forgets what was handled before the application stopped."""
        self._closing.set()
        if self._writer is not None:
            await self._writer
        await self._write(0)


class InboxBot(ExtBot):  # type: ignore[type-arg]
    """The application's bot: getUpdates stores each batch in the inbox before the Updater sees it."""

    __slots__ = ("_inbox", "_received")

    def __init__(
        self,
        inbox: Inbox,
        token: str,
        *,
        base_url: str,
        base_file_url: str,
        rate_limiter: BaseRateLimiter | None,
    ) -> None:  # type: ignore[type-arg]
        super().__init__(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            rate_limiter=rate_limiter,
            request=HTTPXRequest(connection_pool_size=REPLY_CONNECTIONS, pool_timeout=10.0),
            get_updates_request=HTTPXRequest(),
        )
        self._inbox = inbox
        self._received: list[dict[str, Any]] = []

    @property
    def inbox(self) -> Inbox:
        return self._inbox

    async def call(self, method: str, data: dict[str, Any]) -> Any:
        """A Bot API method with its parameters as JSON data (None values left out), through the rate
        limiter and the same errors as the typed methods; returns the JSON result as it came."""
        return await self._post(method, data)

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, *args, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            self._received = result  # the batch's JSON as received: the inbox stores it without re-encoding
        return result

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:  # type: ignore[override]
        self._received = []
        updates = await super().get_updates(*args, **kwargs)
        received, self._received = self._received, []
        if not updates:
            return updates
        payloads = {p["update_id"]: p for p in received if isinstance(p, dict) and "update_id" in p}
        new = await self._inbox.keep(updates, payloads)
        if not new:
            # All of them are being replayed from the inbox. The Updater moves its offset only past updates
            # it is given, so confirm these here.
            await super().get_updates(offset=updates[-1].update_id + 1, timeout=0, limit=1)
        return tuple(new)


class InboxProcessor(SimpleUpdateProcessor):
    """Runs each update (at most 256 at once, as concurrent_updates(True) does), then tells the inbox.
    Application.process_update returns once every handler group ran, a handler's exception having gone
    to the error handler; it raises only when cancelled (shutdown), and then the update stays kept."""

    def __init__(self, inbox: Inbox, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._inbox = inbox

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Each update runs in a task of its own, so the log lines of its handlers carry its id.
        token = update_id.set(update.update_id if isinstance(update, Update) else None)
        try:
            with timed_update("telegram"):
                await coroutine
        finally:
            update_id.reset(token)
        if isinstance(update, Update):
            self._inbox.handled(update.update_id)

    async def shutdown(self) -> None:
        await self._inbox.close()
