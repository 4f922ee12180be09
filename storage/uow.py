"""Unit of work: one session and transaction per incoming update or web request."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.escalations import EscalationRepository
from storage.inbox import UpdateInbox
from storage.repositories import (
    AttachmentRepository,
    AuditRepository,
    CaseRepository,
    CodeRepository,
    DirectoryRepository,
    DraftRepository,
    InviteRepository,
    StudentRepository,
    UpdateLog,
)


class UnitOfWork:
    """`async with uow:` begins; `await uow.commit()` makes it stick; leaving without commit rolls back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("unit of work is not re-entrant; create a new one per update")
        self._session = self._sessions()
        s = self._session
        self.directory = DirectoryRepository(s)
        self.students = StudentRepository(s)
        self.cases = CaseRepository(s)
        self.codes = CodeRepository(s)
        self.invites = InviteRepository(s)
        self.audit = AuditRepository(s)
        self.drafts = DraftRepository(s)
        self.attachments = AttachmentRepository(s)
        self.escalations = EscalationRepository(s)
        self.updates = UpdateLog(s)
        self.inbox = UpdateInbox(s)
        # Lookups that do not change within one unit of work (e.g. who is around a school), computed once.
        self.memo: dict[object, object] = {}
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self.session, None
        # close() rolls back anything uncommitted and detaches rows without expiring them,
        # so values read inside the block stay readable after it.
        await session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        """Forgets what this unit of work changed so far (a refused request changes nothing)."""
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()


class UnitOfWorkFactory:
    """Makes a fresh unit of work per update; never share one between concurrent updates."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)
