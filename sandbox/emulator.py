"""The Emulator: a local Telegram Bot API server hosting fake bots and simulated people."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Self

from aiohttp import web

from sandbox.faults import FaultInjector
from sandbox.limits import LimitConfig, RateLimiter
from sandbox.people import People
from sandbox.server import build_app
from sandbox.state import BotState, Registry
from sandbox.tokens import fake_token, looks_real
from sandbox.validation import spec_version
from sandbox.webhook import WebhookDeliverer

LOCAL_HOSTS = ("127.0.0.1", "localhost")


class Emulator:
    """Run with `await emu.start()`; point python-telegram-bot at `emu.base_url` / `emu.file_base_url`."""

    def __init__(
        self,
        *,
        limits: bool | LimitConfig = True,
        webhook_max_attempts: int = 5,
        webhook_backoff: float = 0.1,
    ) -> None:
        config = limits if isinstance(limits, LimitConfig) else LimitConfig(enabled=bool(limits))
        self.registry = Registry()
        self.people = People(self.registry)
        self.limiter = RateLimiter(config)
        self.faults = FaultInjector()
        self.webhooks = WebhookDeliverer(max_attempts=webhook_max_attempts, base_backoff=webhook_backoff)
        self.calls: Counter[str] = Counter()
        self.unimplemented_calls: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._next_bot_id = 100001

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on host:port (0 picks a free port); return the root URL."""
        if host not in LOCAL_HOSTS:
            raise ValueError("the sandbox only listens on 127.0.0.1")
        self._runner = web.AppRunner(build_app(self), access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self._url = f"http://127.0.0.1:{bound_port}"
        return self._url

    async def stop(self) -> None:
        """Stop webhook delivery and the HTTP server."""
        await self.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Return the root URL, e.g. http://127.0.0.1:8081."""
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """Return the Bot API base URL for python-telegram-bot (token is appended)."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """Return the file download base URL for python-telegram-bot."""
        return f"{self.url}/file/bot"

    @property
    def control_url(self) -> str:
        """Return the root of the control API."""
        return f"{self.url}/_control"

    @staticmethod
    def loop_time() -> float:
        """Return the running loop's clock (used for bounded waits)."""
        return asyncio.get_running_loop().time()

    def create_bot(
        self, token: str | None = None, username: str = "test_bot", first_name: str | None = None
    ) -> BotState:
        """Host a bot; without a token a fake one ("100001:TEST-...") is made."""
        if token is None:
            while any(b.id == self._next_bot_id for b in self.registry.bots.values()):
                self._next_bot_id += 1
            token = fake_token(self._next_bot_id)
            self._next_bot_id += 1
        if looks_real(token):
            raise ValueError("refusing a token shaped like a real Telegram token; use sandbox.fake_token()")
        bot_id = int(token.split(":", 1)[0])
        user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name or username.replace("_", " ").title(),
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        bot = BotState(token=token, user=user)
        self.registry.bots[token] = bot
        return bot

    def bot(self, key: str | int) -> BotState:
        """Return a hosted bot by id, username or token."""
        return self.registry.find_bot(key)

    def create_user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Create a simulated person; their private chat id equals their user id."""
        return self.people.create_user(user_id, first_name, last_name, username, language_code)

    def set_limits(self, **changes: Any) -> dict[str, Any]:
        """Change flood limits at runtime, e.g. set_limits(enabled=False) or per_chat_rate=2."""
        self.limiter.configure(**changes)
        return self.limiter.stats()["config"]

    def inject_fault(
        self, method: str, kind: str, count: int = 1, *, retry_after: int = 1, delay: float = 0.0
    ) -> None:
        """Make the next `count` calls of `method` fail: 500, 502, 429, delay, drop or timeout."""
        self.faults.inject(method, kind, count, retry_after=retry_after, delay=delay)

    def set_random_failures(self, rate: float, **options: Any) -> None:
        """Fail about `rate` of calls at random (see FaultInjector.set_random); rate 0 disables."""
        self.faults.set_random(rate, **options)

    def stats(self) -> dict[str, Any]:
        """Return 429 counters, fault counters, call counts and webhook delivery counts."""
        return {
            **self.limiter.stats(),
            "faults": self.faults.stats(),
            "calls": dict(self.calls),
            "unimplemented_calls": dict(self.unimplemented_calls),
            "spec_version": spec_version(),
            "webhook": {"delivered": self.webhooks.delivered, "dropped": self.webhooks.dropped},
        }

    def reset_counters(self) -> None:
        """Zero the 429, fault and call counters."""
        self.limiter.reset_counters()
        self.faults.injected.clear()
        self.calls.clear()
        self.unimplemented_calls.clear()
