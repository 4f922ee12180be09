"""Leases: one named row saying which process does a job, until when. The same statements on both databases.

Taking or renewing is one UPDATE ... WHERE name = :name AND (holder = :me OR expires_at < :now):
- PostgreSQL: a second process's UPDATE waits for the first one's row lock, then re-checks the WHERE on
  the row as committed (holder changed, expiry in the future) and changes nothing;
- SQLite: one writer at a time (busy_timeout makes the others queue), so the same holds.
A missing row is created with INSERT ... ON CONFLICT DO NOTHING, so two processes starting on an empty
table cannot both win either. Times come from the caller's clock, as for reminder claims: the hosts'
clocks must agree (NTP) to well within the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Lease


async def take(session: AsyncSession, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
    """Renews `holder`'s lease, or takes it if it is free or has expired. True when `holder` now has it
    until now + ttl; the caller commits."""
    renew = (
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(
            holder=holder, expires_at=now + ttl, since=case((Lease.holder == holder, Lease.since), else_=now)
        )
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(renew)).rowcount == 1:  # type: ignore[attr-defined]
        return True
    assert session.bind is not None  # sessions come from make_sessionmaker(engine)
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    first = (
        insert(Lease)
        .values(name=name, holder=holder, since=now, expires_at=now + ttl)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return bool((await session.execute(first)).rowcount)  # type: ignore[attr-defined]


async def resign(session: AsyncSession, name: str, holder: str, *, now: datetime) -> bool:
    """Ends `holder`'s lease now, so another process may take it at once. False if it was not held."""
    q = (
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool((await session.execute(q)).rowcount == 1)  # type: ignore[attr-defined]


async def held_by_another(session: AsyncSession, name: str, holder: str, *, now: datetime) -> bool:
    """True when another process holds the lease and it has not expired, i.e. take() would change nothing.
    A plain read, so a standby may look often."""
    found = await session.scalar(
        select(Lease.name).where(Lease.name == name, Lease.holder != holder, Lease.expires_at >= now)
    )
    return found is not None


async def current(session: AsyncSession, name: str) -> Lease | None:
    """The lease row (holder and expiry, expired or not), or None if no process ever took it."""
    return await session.scalar(
        select(Lease).where(Lease.name == name).execution_options(populate_existing=True)
    )
