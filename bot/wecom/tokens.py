"""WeCom's access token (gettoken, 7 200 s), cached in the database for every process: read there, and
refreshed when missing, expiring within 5 minutes, or refused by WeCom, by one call at a time per process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from domain.clock import Clock
from storage.access_tokens import AccessTokenRepository
from storage.uow import UnitOfWorkFactory

REFRESH_MARGIN = timedelta(minutes=5)

Fetch = Callable[[], Awaitable[tuple[str, int]]]  # -> (access_token, expires_in seconds)


@dataclass(frozen=True)
class CachedToken:
    token: str
    expires_at: datetime


class TokenStore(Protocol):
    async def load(self, key: str) -> CachedToken | None: ...

    async def save(self, key: str, token: CachedToken, refreshed_at: datetime) -> None: ...


class DatabaseTokenStore:
    """The access_tokens table, one short transaction per read or write."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def load(self, key: str) -> CachedToken | None:
        async with self._uow() as uow:
            row = await AccessTokenRepository(uow.session).get(key)
            return None if row is None else CachedToken(row.token, row.expires_at)

    async def save(self, key: str, token: CachedToken, refreshed_at: datetime) -> None:
        async with self._uow() as uow:
            await AccessTokenRepository(uow.session).put(key, token.token, token.expires_at, refreshed_at)
            await uow.commit()


class AccessTokenCache:
    """`await cache.get()` for a usable token; `await cache.renew(refused)` after WeCom refused one."""

    def __init__(self, key: str, store: TokenStore, fetch: Fetch, clock: Clock) -> None:
        self._key, self._store, self._fetch, self._clock = key, store, fetch, clock
        self._lock = asyncio.Lock()
        self._current: CachedToken | None = None

    def _usable(self, cached: CachedToken | None, refused: str | None = None) -> bool:
        if cached is None or cached.token == refused:
            return False
        return cached.expires_at - self._clock.now() > REFRESH_MARGIN

    async def get(self) -> str:
        if self._current is not None and self._usable(self._current):
            return self._current.token
        return await self._obtain(refused=None)

    async def renew(self, refused: str) -> str:
        """A token other than `refused`: one another process stored meanwhile, or a fresh one."""
        return await self._obtain(refused=refused)

    async def _obtain(self, refused: str | None) -> str:
        async with self._lock:  # callers that waited find the token the first one fetched
            if self._current is not None and self._usable(self._current, refused):
                return self._current.token
            stored = await self._store.load(self._key)
            if stored is not None and self._usable(stored, refused):
                self._current = stored
                return stored.token
            token, expires_in = await self._fetch()
            now = self._clock.now()
            self._current = CachedToken(token, now + timedelta(seconds=expires_in))
            await self._store.save(self._key, self._current, now)
            return token
