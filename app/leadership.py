"""Scheduler leadership: exactly one scheduler process plans, builds digests and sends; the others stand by.

Why a lease row and not PostgreSQL advisory locks: an advisory lock is released when its session dies,
which is neat, but SQLite has nothing like it, and the project runs one code path on both databases. It
would also tie leadership to one pooled connection that `pool_pre_ping` may silently replace, and a
half-open TCP connection keeps the lock for as long as the server takes to notice. A lease row
(storage.leases) works the same on both: the leader renews it on its own timer, independent of a long
drain. A standby looks every `STANDBY_EVERY` (one read of one row) and takes the lease once it has
expired or been resigned: within about a second of a leader resigning (`stop()`, as `notoneless
scheduler` does on SIGTERM and SIGINT), and within `leader_lease` + 1 s of a dead leader's last renewal.

A process counts itself leader only until `leader_lease - renew_every` after its last successful
renewal began, i.e. a renewal interval before the row expires: if renewals stall (database gone, the
event loop starved) it stops on its own before anyone else can take over. The claim-before-send and
claim leases of the outbox stay the safety net during a hand-over: a row the old leader claimed is
never sent by the new one until that claim has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from domain.clock import Clock
from storage import leases
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
SCHEDULER = "scheduler"  # the lease's name
# How often a standby looks at the lease. Short, so a resigned lease finds a new leader within about a
# second instead of a renewal interval (10 s by default); cheap, because a standby only reads the row while
# another process holds it (see campaign), so neither database takes a write lock for it.
STANDBY_EVERY = 1.0


class Leadership:
    """Campaigns for the lease every `renew_every` (a third of the lease unless given) while leading, every
    `STANDBY_EVERY` at most while standing by, and says whether this process leads right now.
    `on_elected` runs each time the process becomes leader."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        holder: str,
        lease: timedelta,
        renew_every: float | None = None,
        name: str = SCHEDULER,
        on_elected: Callable[[], None] | None = None,
    ) -> None:
        self.uow, self.clock, self.holder, self.lease, self.name = uow, clock, holder, lease, name
        self.renew_every = renew_every if renew_every is not None else lease.total_seconds() / 3
        self.on_elected = on_elected
        self._until: datetime | None = None  # leader until then, unless renewed
        self._leading = False  # as last logged
        self._task: asyncio.Task[None] | None = None

    def holds(self) -> bool:
        """True while this process may act as leader."""
        return self._until is not None and self.clock.now() < self._until

    async def campaign(self) -> bool:
        """One attempt to take or renew the lease; logs a change of leader. Returns `holds()`."""
        started = self.clock.now()
        try:
            async with self.uow() as uow:
                if self._until is None and await leases.held_by_another(
                    uow.session, self.name, self.holder, now=started
                ):
                    won = False  # what take() would find, without writing
                else:
                    won = await leases.take(uow.session, self.name, self.holder, now=started, ttl=self.lease)
                    await uow.commit()
        except (SQLAlchemyError, OSError):  # the database is away: leadership lapses on its own (see holds)
            log.warning("scheduler lease: renewal by %s failed", self.holder, exc_info=True)
        else:
            margin = timedelta(seconds=min(self.renew_every, self.lease.total_seconds() / 2))
            self._until = started + self.lease - margin if won else None
        await self._log_change()
        return self.holds()

    async def _log_change(self) -> None:
        leading = self.holds()
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            log.info(
                "scheduler lease: %s is now the leader (renews every %.1f s, lease %s)",
                self.holder,
                self.renew_every,
                self.lease,
            )
            if self.on_elected is not None:
                self.on_elected()
            return
        other = None
        with contextlib.suppress(SQLAlchemyError, OSError):  # only for the log line
            async with self.uow() as uow:
                other = await leases.current(uow.session, self.name)
        log.warning(
            "scheduler lease: %s stepped down; standing by (lease held by %s)",
            self.holder,
            other.holder if other is not None and other.holder != self.holder else "nobody",
        )

    async def _loop(self) -> None:
        while True:
            leading = await self.campaign()
            await asyncio.sleep(self.renew_every if leading else min(self.renew_every, STANDBY_EVERY))

    async def start(self) -> None:
        """The first campaign now (so a lone scheduler leads at once), then renewals in the background."""
        if not await self.campaign():
            log.info("scheduler lease: %s is standing by", self.holder)
        self._task = asyncio.create_task(self._loop())

    async def stop(self, *, resign: bool = True) -> None:
        """Stops campaigning and, if leading and `resign`, frees the lease so a standby takes it at its next
        look (within `STANDBY_EVERY`)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if resign and self._until is not None:
            with contextlib.suppress(SQLAlchemyError, OSError):  # database away: the lease simply expires
                async with self.uow() as uow:
                    await leases.resign(uow.session, self.name, self.holder, now=self.clock.now())
                    await uow.commit()
            log.info("scheduler lease: %s resigned", self.holder)
        self._until = None
        self._leading = False
