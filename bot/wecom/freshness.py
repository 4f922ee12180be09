"""Freshness of a callback request: its timestamp near our clock, and no second use of the same
(msg_signature, timestamp, nonce) while the timestamp is still fresh."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from bot.wecom.crypto import CallbackRefused

WINDOW = timedelta(minutes=5)
MAX_REMEMBERED = 4096


class StaleTimestamp(CallbackRefused):
    code = "stale_timestamp"


class Replayed(CallbackRefused):
    code = "replayed"


class ReplayGuard:
    """Refuses stale timestamps and replays, remembering the requests it let through in this process.

    In-process and bounded: several workers each keep their own memory, so a replay to another worker
    within the window gets through there; past MAX_REMEMBERED fresh requests the oldest is forgotten.
    Good enough for URL verification, which WeCom sends only when an administrator saves the settings;
    messages are also deduplicated by MsgId in the database inbox (bot.wecom.inbound)."""

    def __init__(self, window: timedelta = WINDOW, capacity: int = MAX_REMEMBERED) -> None:
        self._window = window
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str, str], datetime] = OrderedDict()

    def admit(self, msg_signature: str, timestamp: str, nonce: str, now: datetime) -> None:
        """Lets a signed request through once, or raises StaleTimestamp or Replayed."""
        sent = _moment(timestamp)
        if sent is None or abs(now - sent) > self._window:
            raise StaleTimestamp()
        self._forget_before(now - self._window)
        key = (msg_signature.lower(), timestamp, nonce)
        if key in self._seen:
            raise Replayed()
        self._seen[key] = sent
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def forget(self, msg_signature: str, timestamp: str, nonce: str) -> None:
        """Lets a request through again (it was admitted but not acted on)."""
        self._seen.pop((msg_signature.lower(), timestamp, nonce), None)

    def _forget_before(self, oldest: datetime) -> None:
        # A timestamp older than the window is refused as stale anyway: no need to remember it.
        for key in [k for k, sent in self._seen.items() if sent < oldest]:
            del self._seen[key]


def _moment(timestamp: str) -> datetime | None:
    """Seconds since the epoch as an aware datetime; None for anything else (sign, spaces, huge)."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 11:
        return None
    return datetime.fromtimestamp(int(timestamp), tz=UTC)
