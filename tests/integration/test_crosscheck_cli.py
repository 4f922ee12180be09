"""`notoneless crosscheck` against SQLite and PostgreSQL: a built world with a roll call, the crafted lists."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from domain.audit import Actor
from domain.policy import Policy
from domain.rollcall import RollCall, record_roll_call
from domain.scope import scope_for
from storage.db import make_engine, make_sessionmaker
from storage.models import AuditEntry
from storage.uow import UnitOfWorkFactory
from tests.factories import build_world
from tests.fixtures import crosscheck as cc
from tests.unit.test_crosscheck import write

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _world_with_roll_call(url: str, policy: Policy) -> None:
    """The test county; pupil 2 (class A) did not arrive at the term-start roll call."""

    async def build() -> None:
        engine = make_engine(url)
        try:
            factory = UnitOfWorkFactory(make_sessionmaker(engine))
            world = await build_world(factory)
            async with factory() as uow:
                staff = await uow.directory.staff(world.staff["teacher_a"].id)
                assert staff is not None
                await record_roll_call(
                    uow,
                    await scope_for(uow, staff),
                    Actor(staff.id, "test:teacher_a"),
                    RollCall(world.class_a.id, [world.students[1].id]),
                    now=datetime(2026, 9, 2, 1, 0, tzinfo=UTC),
                    policy=policy,
                    tz=ZoneInfo("Asia/Shanghai"),
                )
                await uow.commit()
        finally:
            await engine.dispose()

    asyncio.run(build())


def _audits(url: str) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(select(AuditEntry.detail).where(AuditEntry.action == "crosscheck"))
                return [dict(r[0]) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _results(path: Path) -> dict[str, tuple[str, str]]:
    book = load_workbook(path, read_only=True)
    rows = list(book.worksheets[1].iter_rows(values_only=True))[1:]
    return {str(r[8]): (str(r[1]), str(r[2])) for r in rows if r[8]}


def test_crosscheck_cli_buckets_and_rerun(env: str, tmp_path: Path, policy: Policy) -> None:
    _world_with_roll_call(env, policy)
    files = {
        "population": write(tmp_path / "户籍.xlsx", cc.population()),
        "registry": write(tmp_path / "学籍.csv", cc.registry()),
        "poverty": write(tmp_path / "建档立卡.csv", cc.poverty()),
        "disabled": write(tmp_path / "残联.xlsx", cc.disabled()),
    }
    args = [f"--{k}={v}" for k, v in files.items()] + ["--as-of", "2026-09-10"]
    out = tmp_path / "proposal.xlsx"
    result = runner.invoke(cli, ["crosscheck", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    # Counts only on the terminal: no ID number, no name.
    assert all(v not in result.output for v in cc.ID.values()) and "李小三" not in result.output
    found = _results(out)
    for name, expected in cc.EXPECTED.items():
        assert found[cc.ID[name]] == expected, name
    (detail,) = _audits(env)
    assert detail["out_of_school"] == 3 and detail["roll_call_open"] == 1

    registry = cc.registry() + [["G" + cc.ID["missing"], "李小三", cc.ID["missing"], None, cc.OTHER, "在读"]]
    files["registry"] = write(tmp_path / "学籍.csv", registry)
    again = tmp_path / "proposal-2.xlsx"
    args = [f"--{k}={v}" for k, v in files.items()] + ["--as-of", "2026-09-10", "--previous", str(out)]
    result = runner.invoke(cli, ["crosscheck", *args, "--out", str(again), "--language", "en"])
    assert result.exit_code == 0, result.output
    assert "0 new, 0 gone, 1 changed" in result.output
    changes = list(load_workbook(again, read_only=True)["Changes"].iter_rows(values_only=True))
    assert [r[4] for r in changes[1:]] == ["李小三"]


def test_crosscheck_cli_refuses_bad_input_and_writes_nothing(env: str, tmp_path: Path) -> None:
    population = write(tmp_path / "p.csv", cc.population())
    broken = tmp_path / "r.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really")
    out = tmp_path / "out.xlsx"
    result = runner.invoke(
        cli, ["crosscheck", "--population", str(population), "--registry", str(broken), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "r.xlsx" in result.output and not out.exists()
    result = runner.invoke(
        cli, ["crosscheck", "--population", str(population), "--registry", str(population), "--out", "x.csv"]
    )
    assert result.exit_code == 1 and ".xlsx" in result.output
