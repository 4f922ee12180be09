"""Failed dashboard logins per (username key, client address): the shared state of the lock-out.
The same statements on both databases (INSERT ... ON CONFLICT DO UPDATE). Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LoginFailure


class LoginFailureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, username_key: str, address: str) -> LoginFailure | None:
        return await self.session.scalar(
            select(LoginFailure).where(
                LoginFailure.username_key == username_key, LoginFailure.address == address
            )
        )

    async def record(self, username_key: str, address: str, now: datetime) -> int:
        """Counts one more failure (two workers at once both count); returns the new count."""
        assert self.session.bind is not None  # sessions come from make_sessionmaker(engine)
        insert = postgresql.insert if self.session.bind.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(LoginFailure)
            .values(username_key=username_key, address=address, failures=1, last_failed_at=now)
            .on_conflict_do_update(
                index_elements=["username_key", "address"],
                set_={"failures": LoginFailure.failures + 1, "last_failed_at": now},
            )
            .returning(LoginFailure.failures)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def clear(self, username_key: str, address: str | None = None) -> None:
        """Forgets the failures of the username from `address`, or from every address."""
        q = delete(LoginFailure).where(LoginFailure.username_key == username_key)
        if address is not None:
            q = q.where(LoginFailure.address == address)
        await self.session.execute(q)

    async def forget_before(self, cutoff: datetime) -> None:
        """Drops rows whose last failure is older than `cutoff` (indexed, so cheap on every failure)."""
        await self.session.execute(delete(LoginFailure).where(LoginFailure.last_failed_at < cutoff))
