"""`notoneless crosscheck` against SQLite and PostgreSQL: a built world with a roll call, the crafted lists."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from domain.audit import Actor
from domain.casework.rollcall import RollCall, record_roll_call
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.privacy.retention import run_retention
from storage.db import make_engine, make_sessionmaker
from storage.media import LocalMediaStore
from storage.models import AuditEntry, Case, CrosscheckChild, CrosscheckRun
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


def _saved(url: str) -> list[tuple[CrosscheckRun, dict[str, CrosscheckChild]]]:
    async def read() -> list[tuple[CrosscheckRun, dict[str, CrosscheckChild]]]:
        engine = make_engine(url)
        try:
            async with AsyncSession(engine) as session:
                runs = (await session.scalars(select(CrosscheckRun).order_by(CrosscheckRun.id))).all()
                found = []
                for run in runs:
                    rows = (
                        await session.scalars(select(CrosscheckChild).where(CrosscheckChild.run_id == run.id))
                    ).all()
                    found.append((run, {r.national_id or r.key: r for r in rows}))
                return found
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _retention(url: str, policy: Policy, media: Path, link: tuple[int, int] | None) -> int:
    """Points a child at a case (as a confirmation does), then runs the retention job."""

    async def run() -> int:
        engine = make_engine(url)
        try:
            factory = UnitOfWorkFactory(make_sessionmaker(engine))
            if link is not None:
                async with factory() as uow:
                    await uow.session.execute(
                        update(CrosscheckChild).where(CrosscheckChild.id == link[0]).values(case_id=link[1])
                    )
                    await uow.commit()
            counts = await run_retention(
                factory,
                LocalMediaStore(media),
                policy.data_retention,
                now=datetime(2026, 9, 11, 1, 0, tzinfo=UTC),
                tz=ZoneInfo("Asia/Shanghai"),
            )
            return counts.crosscheck_children
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_crosscheck_cli_saves_runs_and_retention_keeps_the_latest_two(
    env: str, tmp_path: Path, policy: Policy
) -> None:
    _world_with_roll_call(env, policy)
    files = {
        "population": write(tmp_path / "户籍.xlsx", cc.population()),
        "registry": write(tmp_path / "学籍.csv", cc.registry()),
        "poverty": write(tmp_path / "建档立卡.csv", cc.poverty()),
    }
    args = [f"--{k}={v}" for k, v in files.items()] + ["--as-of", "2026-09-10", "--language", "en"]
    result = runner.invoke(cli, ["crosscheck", *args])
    assert result.exit_code == 1 and "--save" in result.output  # neither --out nor --save
    result = runner.invoke(cli, ["crosscheck", *args, "--save", "--county", "NOPE"])
    assert result.exit_code == 1 and "NOPE" in result.output
    result = runner.invoke(cli, ["crosscheck", *args, "--save"])
    assert result.exit_code == 0, result.output
    assert "run #1" in result.output and "16 new, 0 changed, 0 unchanged, 0 gone" in result.output
    assert all(v not in result.output for v in cc.ID.values()) and "李小三" not in result.output
    ((run, children),) = _saved(env)
    assert run.sources["registry"] == {"file": "学籍.csv", "rows": 8, "skipped": 0}
    assert run.counts["out_of_school"] == 2 and run.counts["absent"] == 1  # no disability list this time
    missing, absent = children[cc.ID["missing"]], children[cc.ID["absent"]]
    assert (missing.bucket, missing.reason, missing.poverty) == (
        "out_of_school",
        "no_record_population",
        True,
    )
    assert absent.bucket == "absent" and absent.student_id is not None and absent.school_id is not None
    assert absent.village_id is not None  # the roster pupil's home village
    assert (
        missing.village_id is not None and missing.village_id != absent.village_id
    )  # 西河村 from the address
    assert children[cc.ID["elsewhere"]].village_id is None  # 东乡4组 names no village of ours

    # Run 2: one record added (李小三 now enrolled elsewhere): 1 changed; run 3 as run 2.
    registry = cc.registry() + [["G" + cc.ID["missing"], "李小三", cc.ID["missing"], None, cc.OTHER, "在读"]]
    files["registry"] = write(tmp_path / "学籍.csv", registry)
    args = [f"--{k}={v}" for k, v in files.items()] + ["--as-of", "2026-09-10", "--language", "en"]
    result = runner.invoke(cli, ["crosscheck", *args, "--save"])
    assert result.exit_code == 0 and "0 new, 1 changed, 15 unchanged, 0 gone" in result.output
    assert runner.invoke(cli, ["crosscheck", *args, "--save"]).exit_code == 0
    runs = _saved(env)
    assert [r.previous_id for r, _ in runs] == [None, runs[0][0].id, runs[1][0].id]

    # Retention: run 1 (older than the latest two) loses its children, but the one a case came from
    # keeps its row without personal details.
    case_id = _open_case(env)
    kept = runs[0][1][cc.ID["absent"]].id
    assert _retention(env, policy, tmp_path / "media", (kept, case_id)) == 16
    after = _saved(env)
    assert next(iter(after[0][1].values())).id == kept and len(after[0][1]) == 1
    (row,) = after[0][1].values()
    assert (row.name, row.national_id, row.case_id, row.bucket) == ("", None, case_id, "absent")
    assert [len(c) for _, c in after[1:]] == [16, 16]
    assert _retention(env, policy, tmp_path / "media", None) == 0  # nothing left to do


def _open_case(url: str) -> int:
    async def read() -> int:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(select(Case.id).limit(1))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(read())
