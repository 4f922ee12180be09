"""Push delivery of updates to a bot's webhook: in order, one at a time, with bounded retries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from sandbox.state import BotState

log = logging.getLogger(__name__)


class WebhookDeliverer:
    """Runs one delivery task per bot with a webhook; a failed update is retried with backoff."""

    def __init__(self, *, max_attempts: int = 5, base_backoff: float = 0.1, max_backoff: float = 2.0,
                 request_timeout: float = 10.0) -> None:
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.request_timeout = request_timeout
        self.dropped = 0
        self.delivered = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    def kick(self, bot: BotState) -> None:
        """Make sure a delivery task runs for this bot."""
        task = self._tasks.get(bot.id)
        if task is None or task.done():
            self._tasks[bot.id] = asyncio.get_running_loop().create_task(self._run(bot))

    async def close(self) -> None:
        """Stop every delivery task and the HTTP session."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, bot: BotState) -> None:
        attempts = 0
        while bot.webhook is not None:
            if not bot.pending:
                # Bounded wait; the loop re-checks whether the webhook is still set.
                await bot.updates_notifier.wait_beyond(bot.updates_notifier.version, 1.0)
                continue
            update = bot.pending[0]
            error = await self._post(bot, update)
            if bot.pending and bot.pending[0] is update:
                if error is None:
                    bot.pending.pop(0)
                    self.delivered += 1
                    attempts = 0
                    continue
                bot.last_webhook_error = (int(time.time()), error)
                attempts += 1
                if attempts >= self.max_attempts:
                    # Telegram also gives up on an update after a number of attempts.
                    log.warning("webhook gave up on update %s: %s", update["update_id"], error)
                    bot.pending.pop(0)
                    self.dropped += 1
                    attempts = 0
                    continue
                await asyncio.sleep(min(self.max_backoff, self.base_backoff * 2 ** (attempts - 1)))

    async def _post(self, bot: BotState, update: dict) -> str | None:
        webhook = bot.webhook
        if webhook is None:
            return "Webhook was deleted"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.request_timeout))
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
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
