"""Queries for dashboard logins, server-side sessions and API tokens. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken, WebSession, WebUser


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
