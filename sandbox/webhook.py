"""Push delivery of updates to a bot's webhook, shaped like Telegram's Bot API server (WebhookActor).

Updates wait in queues: a chat's messages (and their edits) in one, a user's button taps in another.
Each queue sends one update at a time and moves on only once the webhook answered 2xx; up to the
webhook's max_connections queues send at once, so a failing update holds back only its own queue.
A failed update (connection refused or reset, a non-2xx status, a timeout) is sent again: the first
retry at once, later ones after doubling waits; after max_attempts the update is dropped, as Telegram
drops one it could not deliver in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from sandbox.state import BotState

log = logging.getLogger(__name__)
Update = dict[str, Any]


def queue_of(update: Update) -> tuple[str, int]:
    """The delivery queue of an update: its chat for messages, its sender for button taps."""
    for kind in ("message", "edited_message"):
        if kind in update:
            return "chat", int(update[kind]["chat"]["id"])
    if "callback_query" in update:
        return "user", int(update["callback_query"]["from"]["id"])
    return "update", int(update["update_id"])


def _is_pending(bot: BotState, update: Update) -> bool:
    return any(u is update for u in bot.pending)


def _forget(bot: BotState, update: Update) -> None:
    # By identity: a redelivered copy of the same update is equal to it but waits its own turn.
    bot.pending[:] = [u for u in bot.pending if u is not update]


class WebhookDeliverer:
    """One dispatcher task per bot with a webhook, and one sending task per busy queue."""

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        base_backoff: float = 0.1,
        max_backoff: float = 2.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.dropped = 0
        self.delivered = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._busy: dict[int, dict[tuple[str, int], asyncio.Task[None]]] = {}
        self._session: aiohttp.ClientSession | None = None

    def retry_delay(self, failures: int) -> float:
        """Seconds to wait after `failures` failed attempts in a row: none after the first failure,
        then base_backoff, doubling up to max_backoff (Telegram: 2 s doubling up to a minute or two)."""
        if failures <= 1:
            return 0.0
        return float(min(self.max_backoff, self.base_backoff * 2 ** (failures - 2)))

    def kick(self, bot: BotState) -> None:
        """Make sure a delivery task runs for this bot."""
        task = self._tasks.get(bot.id)
        if task is None or task.done():
            self._tasks[bot.id] = asyncio.get_running_loop().create_task(self._run(bot))

    async def close(self) -> None:
        """Stop every delivery task and the HTTP session."""
        tasks = [*self._tasks.values(), *(t for busy in self._busy.values() for t in busy.values())]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._busy.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, bot: BotState) -> None:
        busy = self._busy.setdefault(bot.id, {})
        while bot.webhook is not None:
            for key in [k for k, task in busy.items() if task.done()]:
                del busy[key]
            version = bot.updates_notifier.version
            limit = max(1, int(bot.webhook.get("max_connections") or 40))
            for update in list(bot.pending):
                key = queue_of(update)
                if len(busy) >= limit:
                    break
                if key not in busy:
                    busy[key] = asyncio.get_running_loop().create_task(self._deliver(bot, update))
            # Bounded wait for a new update or a queue that became free; then look again.
            waiter = asyncio.ensure_future(bot.updates_notifier.wait_beyond(version, 1.0))
            await asyncio.wait([waiter, *busy.values()], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

    async def _deliver(self, bot: BotState, update: Update) -> None:
        """Send one update until the webhook takes it, it is dropped, or the webhook goes away."""
        failures = 0
        while True:
            error = await self._post(bot, update)
            if not _is_pending(bot, update):
                return  # dropped meanwhile (deleteWebhook or setWebhook with drop_pending_updates)
            if error is None:
                _forget(bot, update)
                self.delivered += 1
                return
            failures += 1
            bot.last_webhook_error = (int(time.time()), error)
            if failures >= self.max_attempts:
                log.warning("webhook gave up on update %s: %s", update["update_id"], error)
                _forget(bot, update)
                self.dropped += 1
                return
            await asyncio.sleep(self.retry_delay(failures))
            if bot.webhook is None:
                return  # left pending: getUpdates hands it out now

    async def _post(self, bot: BotState, update: Update) -> str | None:
        webhook = bot.webhook
        if webhook is None:
            return "Webhook was deleted"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.request_timeout))
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        update_id = int(update["update_id"])
        bot.webhook_posts[update_id] += 1
        bot.webhook_in_flight.add(update_id)
        try:
            async with self._session.post(webhook["url"], data=json.dumps(update), headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return None
                return f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except aiohttp.ClientError as exc:
            return f"Connection failed: {exc.__class__.__name__}"
        finally:
            bot.webhook_in_flight.discard(update_id)
