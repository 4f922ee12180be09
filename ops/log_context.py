"""Per-request and per-update ids for log lines: set by the web middleware (web.request_id) and by the
bot around each update (bot.inbox); read by the log formatter (app.logs)."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
update_id: ContextVar[int | None] = ContextVar("update_id", default=None)
