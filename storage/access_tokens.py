"""Channel API access tokens shared by every process (table access_tokens, migration 0021)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from storage.models import AccessToken
from storage.repositories import _Repository


class AccessTokenRepository(_Repository):
    """One row per app key; the last process to refresh the token writes it."""

    async def get(self, key: str) -> AccessToken | None:
        return await self.session.get(AccessToken, key, populate_existing=True)

    async def put(self, key: str, token: str, expires_at: datetime, refreshed_at: datetime) -> None:
        """Stores the token under `key`, replacing any older one, in one statement."""
        assert self.session.bind is not None  # sessions come from make_sessionmaker(engine)
        insert = postgresql.insert if self.session.bind.dialect.name == "postgresql" else sqlite.insert
        values = {"token": token, "expires_at": expires_at, "refreshed_at": refreshed_at}
        stmt = insert(AccessToken).values(key=key, **values)
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=values))
