"""Prometheus metrics: what an operator watches to know children's cases are still moving.

Counters and histograms live in the process that does the work (the bot's steps and the dashboard's
exports in the web process, reminders in the scheduler). Gauges that describe the shared state (what is
due, how late the outbox is, the inbox's depth, who leads) are read from the database when scraped, so
every process reports the same truth. With several uvicorn workers, set PROMETHEUS_MULTIPROC_DIR to an
empty folder so their counters are added up (prometheus_client's multiprocess mode; docs/deploy.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from time import perf_counter

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select

from storage.models import InboxUpdate, Lease, Reminder
from storage.uow import UnitOfWork

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
EXPORT_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

UPDATES = Counter(
    "notoneless_updates", "Chat updates handled, by channel and outcome (ok, failed).", ["channel", "outcome"]
)
STEP_SECONDS = Histogram(
    "notoneless_step_seconds",
    "Time to handle one chat update, reply included.",
    ["channel"],
    buckets=STEP_BUCKETS,
)
REMINDERS = Counter(
    "notoneless_reminders", "Reminder messages by result (sent, failed, unreachable).", ["result"]
)
RATE_LIMITED = Counter(
    "notoneless_rate_limited", "Answers 429 (retry after) from the chat service.", ["sender"]
)
EXPORT_SECONDS = Histogram(
    "notoneless_export_seconds",
    "Time to write one ledger or report export.",
    ["format"],
    buckets=EXPORT_BUCKETS,
)
LOGIN_FAILURES = Counter(
    "notoneless_login_failures",
    "Dashboard logins refused (refused: wrong, unknown or held back; throttled: 429).",
    ["reason"],
)

# Set by the chat error handler while an update is handled, read when it is done (same task).
update_failed: ContextVar[bool] = ContextVar("update_failed", default=False)


@contextmanager
def timed_update(channel: str) -> Iterator[None]:
    """Counts one update and its duration; the outcome is what the error handler reported."""
    token = update_failed.set(False)
    start = perf_counter()
    try:
        yield
    finally:
        STEP_SECONDS.labels(channel).observe(perf_counter() - start)
        UPDATES.labels(channel, "failed" if update_failed.get() else "ok").inc()
        update_failed.reset(token)


def process_metrics() -> bytes:
    """This process's counters, or every worker's when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)


async def state_metrics(uow: UnitOfWork, now: datetime) -> bytes:
    """Gauges of the shared state, read in one short transaction."""
    s = uow.session
    registry = CollectorRegistry()
    due = Gauge("notoneless_reminders_due", "Reminders whose time has come, not yet sent.", registry=registry)
    lag = Gauge(
        "notoneless_outbox_lag_seconds",
        "How long the oldest due reminder has waited (0 when none is due).",
        registry=registry,
    )
    failed = Gauge("notoneless_reminders_failed_rows", "Reminder rows given up on.", registry=registry)
    inbox = Gauge("notoneless_inbox_depth", "Polled updates stored and not yet handled.", registry=registry)
    held = Gauge(
        "notoneless_lease_held",
        "1 while a process holds a lease (the scheduler's: which one leads), by lease and holder.",
        ["lease", "holder"],
        registry=registry,
    )
    waiting = (Reminder.state == "pending") & (Reminder.send_after <= now)
    count, oldest = (
        await s.execute(select(func.count(), func.min(Reminder.send_after)).where(waiting))
    ).one()
    due.set(count or 0)
    lag.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
    failed.set(await s.scalar(select(func.count()).where(Reminder.state == "failed")) or 0)
    inbox.set(await s.scalar(select(func.count()).select_from(InboxUpdate)) or 0)
    for name, holder, expires_at in (
        await s.execute(select(Lease.name, Lease.holder, Lease.expires_at))
    ).all():
        held.labels(name, holder).set(1 if expires_at > now else 0)
    return generate_latest(registry)
