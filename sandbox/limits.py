"""Telegram-like flood limits (token buckets per bot and per chat) and counters of every 429."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.errors import too_many_requests

# Methods that put a message into a chat: they count against the bot's and the chat's buckets.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendSticker",
        "sendAudio",
        "sendVoice",
        "sendVideo",
        "sendAnimation",
        "sendVideoNote",
        "sendMediaGroup",
        "sendPoll",
        "sendDice",
        "copyMessage",
        "forwardMessage",
    }
)
# Edits count against the bot's overall bucket only, so a tap-answer-edit flow is not throttled per chat.
EDITING_METHODS = frozenset(
    {"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia"}
)
RATE_LIMITED_METHODS = SENDING_METHODS | EDITING_METHODS


@dataclass
class LimitConfig:
    """Flood limit settings: about 30 messages/s per bot and 1 message/s per chat, with small bursts."""

    enabled: bool = True
    per_bot_rate: float = 30.0
    per_bot_burst: float = 30.0
    per_chat_rate: float = 1.0
    per_chat_burst: float = 10.0


@dataclass
class TokenBucket:
    """A classic token bucket; `take` returns 0 when allowed, else seconds until a token is free."""

    rate: float
    capacity: float
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> float:
        """Consume one token if available, otherwise return the wait in seconds."""
        elapsed = max(0.0, now - self.stamp)  # a bucket made after `now` was read must not lose tokens
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.stamp = max(self.stamp, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Applies LimitConfig to message-sending calls and counts every 429 the emulator issues."""

    def __init__(self, config: LimitConfig | None = None) -> None:
        self.config = config or LimitConfig()
        self._buckets: dict[tuple[int, Any], TokenBucket] = {}
        self.total_429 = 0
        self.by_chat: Counter[str] = Counter()
        self.by_method: Counter[str] = Counter()
        self.by_bot: Counter[str] = Counter()

    def configure(self, **changes: Any) -> LimitConfig:
        """Change settings at runtime (e.g. enabled=False); buckets restart full."""
        for key, value in changes.items():
            if not hasattr(self.config, key):
                raise ValueError(f"unknown limit setting {key!r}")
            setattr(self.config, key, type(getattr(self.config, key))(value))
        self._buckets.clear()
        return self.config

    def check(self, bot_id: int, method: str, chat_id: Any) -> list[TokenBucket]:
        """Raise a 429 ApiError if this call would exceed a limit; otherwise consume and return tokens."""
        cfg = self.config
        if not cfg.enabled or method not in RATE_LIMITED_METHODS:
            return []
        now = time.monotonic()
        chat_key = str(chat_id) if chat_id is not None and method in SENDING_METHODS else None
        bot_bucket = self._bucket((bot_id, None), cfg.per_bot_rate, cfg.per_bot_burst)
        chat_bucket = (
            self._bucket((bot_id, chat_key), cfg.per_chat_rate, cfg.per_chat_burst)
            if chat_key is not None
            else None
        )
        # Peek both buckets before consuming so a refused call costs nothing.
        waits = [bot_bucket.take(now)]
        if chat_bucket is not None:
            waits.append(chat_bucket.take(now))
        wait = max(waits)
        if wait > 0:
            if waits[0] == 0:
                bot_bucket.tokens += 1.0
            if len(waits) > 1 and waits[1] == 0 and chat_bucket is not None:
                chat_bucket.tokens += 1.0
            retry_after = max(1, math.ceil(wait))
            self.record_429(bot_id, method, None if chat_id is None else str(chat_id))
            raise too_many_requests(retry_after)
        return [bot_bucket] + ([chat_bucket] if chat_bucket is not None else [])

    @staticmethod
    def refund(buckets: list[TokenBucket]) -> None:
        """Give tokens back for a call that then failed (Telegram counts only delivered messages)."""
        for bucket in buckets:
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1.0)

    def record_429(self, bot_id: int, method: str, chat_key: str | None) -> None:
        """Count one 429 response (flood limit or injected fault)."""
        self.total_429 += 1
        self.by_method[method] += 1
        self.by_bot[str(bot_id)] += 1
        if chat_key is not None:
            self.by_chat[chat_key] += 1

    def _bucket(self, key: tuple[int, Any], rate: float, burst: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate=rate, capacity=max(1.0, burst), tokens=burst)
        return bucket

    def stats(self) -> dict[str, Any]:
        """Return the settings and the 429 counters."""
        return {
            "config": asdict(self.config),
            "too_many_requests": {
                "total": self.total_429,
                "by_chat": dict(self.by_chat),
                "by_method": dict(self.by_method),
                "by_bot": dict(self.by_bot),
            },
        }

    def reset_counters(self) -> None:
        """Zero the 429 counters."""
        self.total_429 = 0
        for counter in (self.by_chat, self.by_method, self.by_bot):
            counter.clear()
