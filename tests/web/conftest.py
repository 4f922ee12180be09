"""Fixtures of the dashboard tests: the known county, the app on both databases, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.container import Services
from app.settings import Settings
from domain.clock import FixedClock
from domain.people import webauth
from domain.policy import Policy
from storage.uow import UnitOfWorkFactory
from tests.web.county import PASSWORD, County, build_county
from web.app import create_app

AsUser = Callable[[str], Awaitable[httpx.AsyncClient]]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters in tests; production uses argon2-cffi's defaults."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(webauth, "_hasher", cheap)
    monkeypatch.setattr(webauth, "_DUMMY_HASH", cheap.hash("dummy"))


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def services(
    database_url: str,
    engine: AsyncEngine,
    uow_factory: UnitOfWorkFactory,
    policy: Policy,
    clock: FixedClock,
    media_dir: Path,
) -> Services:
    settings = Settings(database_url=database_url, media_dir=media_dir, _env_file=None)  # type: ignore[call-arg]
    return Services(settings=settings, engine=engine, uow=uow_factory, policy=policy, clock=clock)


@pytest.fixture
async def county(uow_factory: UnitOfWorkFactory, policy: Policy, media_dir: Path) -> County:
    return await build_county(uow_factory, policy, media_dir)


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Fetches the login form (for its CSRF token) and submits it."""
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": "/dashboard",
        },
    )


@pytest.fixture
def as_user(client: httpx.AsyncClient, county: County) -> AsUser:
    """`await as_user("principal")` logs the client in as that dashboard user."""

    async def log_in(username: str) -> httpx.AsyncClient:
        client.cookies.clear()
        reply = await login(client, username)
        assert reply.status_code == 303, reply.text
        return client

    return log_in
