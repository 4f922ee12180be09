"""`notoneless user add` and `notoneless user token` against real databases."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from domain.clock import SystemClock
from domain.webauth import identify_token, login
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory
from tests.factories import build_world

runner = CliRunner()
T = TypeVar("T")


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    asyncio.run(_in_db(database_url, lambda f: build_world(f, pupils_per_class=1)))
    yield database_url
    get_settings.cache_clear()


async def _in_db(url: str, work: Callable[[UnitOfWorkFactory], Awaitable[T]]) -> T:
    engine = make_engine(url)
    try:
        return await work(UnitOfWorkFactory(make_sessionmaker(engine)))
    finally:
        await engine.dispose()


async def _login(factory: UnitOfWorkFactory, username: str, password: str) -> str:
    async with factory() as uow:
        _token, identity = await login(uow, username, password, now=SystemClock().now(), ip=None)
        await uow.commit()
    return identity.staff.phone


async def _token_owner(factory: UnitOfWorkFactory, token: str) -> str | None:
    async with factory() as uow:
        identity = await identify_token(uow, token, SystemClock().now())
        return identity.staff.phone if identity else None


def test_user_add_reads_the_password_from_stdin(env: str) -> None:
    result = runner.invoke(
        cli,
        ["user", "add", "chen", "--staff", "13800000004", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "chen" in result.output and "138****0004" in result.output
    assert asyncio.run(_in_db(env, lambda f: _login(f, "chen", "a long enough password"))) == "13800000004"
    again = runner.invoke(
        cli,
        ["user", "add", "chen", "--staff", "13800000007", "--password-stdin"],
        input="a long enough password\n",
    )
    assert again.exit_code == 1 and "username_taken" in again.output


def test_user_add_prompts_twice_and_refuses_teachers(env: str) -> None:
    result = runner.invoke(
        cli,
        ["user", "add", "zhou", "--staff", "13800000007", "--export-pii"],
        input="another good password\nanother good password\n",
    )
    assert result.exit_code == 0 and "with PII export" in result.output
    teacher = runner.invoke(
        cli,
        ["user", "add", "wang", "--staff", "13800000001", "--password-stdin"],
        input="a long enough password\n",
    )
    assert teacher.exit_code == 1 and "Telegram" in teacher.output


def test_user_token_is_printed_once_and_works(env: str) -> None:
    result = runner.invoke(cli, ["user", "token", "--staff", "13800000008", "--name", "county-bi"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("nol_")
    assert asyncio.run(_in_db(env, lambda f: _token_owner(f, token))) == "13800000008"
