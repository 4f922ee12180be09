"""The `notoneless` command against real databases: schema upgrade and invite links."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from storage import leases
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory
from tests.factories import build_world

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "nol_test_bot")
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _world(url: str) -> dict[str, int]:
    async def build() -> dict[str, int]:
        engine = make_engine(url)
        try:
            world = await build_world(UnitOfWorkFactory(make_sessionmaker(engine)), pupils_per_class=1)
            return {k: v.id for k, v in world.staff.items()}
        finally:
            await engine.dispose()

    return asyncio.run(build())


def test_db_upgrade_is_repeatable(env: str) -> None:
    for _ in range(2):
        result = runner.invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_invite_prints_a_deep_link_with_masked_phone(env: str) -> None:
    _world(env)
    result = runner.invoke(cli, ["invite", "--staff", "13800000001"])
    assert result.exit_code == 0, result.output
    assert re.search(r"https://t\.me/nol_test_bot\?start=[A-Za-z0-9_-]{16,64}", result.output)
    assert "13800000001" not in result.output and "138****0001" in result.output


def test_invite_all_unbound_writes_a_file(env: str, tmp_path: Path) -> None:
    staff = _world(env)
    out = tmp_path / "invites.tsv"
    result = runner.invoke(cli, ["invite", "--all-unbound", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(staff)
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_invite_without_target_explains_usage(env: str) -> None:
    result = runner.invoke(cli, ["invite"])
    assert result.exit_code != 0
    assert "--staff" in result.output


def test_unknown_staff_is_reported(env: str) -> None:
    _world(env)
    result = runner.invoke(cli, ["invite", "--staff", "13999999999"])
    assert result.exit_code == 1
    assert "no staff member" in result.output


def test_demo_data_prints_a_fresh_dashboard_login_that_works(env: str) -> None:
    from datetime import UTC, datetime

    from domain.people.webauth import LoginRefused, login

    passwords = []
    for _ in range(2):
        result = runner.invoke(cli, ["demo-data"])
        assert result.exit_code == 0, result.output
        found = re.search(r"user 'demo', password '([^']+)'", result.output)
        assert found, result.output
        passwords.append(found.group(1))
    assert passwords[0] != passwords[1]

    async def try_login(password: str) -> bool:
        engine = make_engine(env)
        try:
            async with UnitOfWorkFactory(make_sessionmaker(engine))() as uow:
                return await login(uow, "demo", password, now=datetime.now(UTC), ip="127.0.0.1") is not None
        except LoginRefused:
            return False
        finally:
            await engine.dispose()

    assert asyncio.run(try_login(passwords[1]))
    assert not asyncio.run(try_login(passwords[0]))


def test_overview_refresh_stores_the_areas_above_the_limit(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _world(env)
    monkeypatch.setenv("OVERVIEW_LIVE_MAX_CASES", "0")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["overview-refresh"])
    assert result.exit_code == 0, result.output
    # The world's coordinators are counted; it has no cases yet, so no area is above 0 cases.
    assert re.search(
        r"Overview snapshots: 0 of [1-9]\d* coordinator areas stored \(above 0 cases\)", result.output
    )


def test_leader_names_the_scheduler_that_holds_the_lease(env: str) -> None:
    assert "No scheduler leads now" in runner.invoke(cli, ["leader"]).output

    async def take() -> None:
        engine = make_engine(env)
        try:
            async with UnitOfWorkFactory(make_sessionmaker(engine))() as uow:
                assert await leases.take(
                    uow.session,
                    "scheduler",
                    "host-a:4242:0f0f0f0f",
                    now=datetime.now(UTC),
                    ttl=timedelta(minutes=5),
                )
                await uow.commit()
        finally:
            await engine.dispose()

    asyncio.run(take())
    result = runner.invoke(cli, ["leader"])
    assert result.exit_code == 0, result.output
    assert "Scheduler leader: host-a:4242:0f0f0f0f" in result.output


def test_a_failing_roster_import_prints_no_id_or_phone(
    env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A database error during the import prints one masked line: no parameters, no traceback locals."""
    from sqlalchemy import text

    from domain.roster import importer as roster
    from tests.fixtures.roster import good_sheets, write_xlsx

    nid, phone = "11010519491231002X", "13900000001"

    async def failing_write(uow: object, *_args: object, **_kw: object) -> object:
        statement = "INSERT INTO students (student_number, national_id, guardian_phone) VALUES ('T9', :n, :p)"
        await uow.session.execute(text(statement), {"n": nid, "p": phone})  # type: ignore[attr-defined]
        raise AssertionError("the insert should have failed (no name)")

    monkeypatch.setattr(roster, "apply_roster", failing_write)
    result = runner.invoke(cli, ["import-roster", str(write_xlsx(tmp_path / "r.xlsx", good_sheets()))])
    assert result.exit_code == 1, result.output
    assert "Database error (IntegrityError)" in result.output
    assert nid not in result.output and phone not in result.output
    assert "[parameters:" not in result.output and "Traceback" not in result.output
