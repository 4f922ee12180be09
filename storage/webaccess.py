"""Queries for dashboard logins, server-side sessions and API tokens. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken, Staff, WebSession, WebUser


class WebAccessRepository:
    """Web users, their sessions and the integration tokens of staff members."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def user_by_username(self, username: str) -> WebUser | None:
        return await self.session.scalar(select(WebUser).where(WebUser.username == username))

    async def user(self, user_id: int) -> WebUser | None:
        return await self.session.get(WebUser, user_id)

    async def session_by_hash(self, token_hash: str) -> WebSession | None:
        return await self.session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))

    async def delete(self, row: WebSession) -> None:
        await self.session.delete(row)

    async def delete_expired_sessions(self, user_id: int, now: datetime) -> None:
        """Expired sessions of the user are removed at each login, so the table stays small."""
        await self.session.execute(
            delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now)
        )

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return await self.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))

    async def users_with_staff(self) -> list[tuple[WebUser, Staff]]:
        """Every dashboard login with its staff member, by username."""
        rows = await self.session.execute(
            select(WebUser, Staff).join(Staff, Staff.id == WebUser.staff_id).order_by(WebUser.username)
        )
        return [(user, staff) for user, staff in rows]

    async def logins_of_staff(self, staff_id: int) -> list[WebUser]:
        return list(await self.session.scalars(select(WebUser).where(WebUser.staff_id == staff_id)))

    async def delete_sessions(self, user_id: int) -> int:
        """Ends every session of the user at once (password changed, login disabled)."""
        done = await self.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        return int(done.rowcount or 0)  # type: ignore[attr-defined]

    async def token(self, token_id: int) -> ApiToken | None:
        return await self.session.get(ApiToken, token_id)

    async def tokens_with_staff(self, staff_id: int | None = None) -> list[tuple[ApiToken, Staff]]:
        """API tokens (of one staff member, or all) with their owners, oldest first."""
        query = select(ApiToken, Staff).join(Staff, Staff.id == ApiToken.staff_id).order_by(ApiToken.id)
        if staff_id is not None:
            query = query.where(ApiToken.staff_id == staff_id)
        return [(token, staff) for token, staff in await self.session.execute(query)]

    async def live_token_counts(self, now: datetime) -> dict[int, int]:
        """Staff id → how many of their tokens are neither revoked nor expired."""
        rows = await self.session.execute(
            select(ApiToken.staff_id, func.count())
            .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
            .group_by(ApiToken.staff_id)
        )
        return {staff_id: n for staff_id, n in rows}

    async def revoke_tokens_of_staff(self, staff_id: int, now: datetime) -> int:
        """Revokes every token of the staff member not revoked yet; returns how many."""
        done = await self.session.execute(
            update(ApiToken)
            .where(ApiToken.staff_id == staff_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(done.rowcount or 0)  # type: ignore[attr-defined]
