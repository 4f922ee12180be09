"""`notoneless subject export|erase` and `notoneless retention run` against real databases."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from storage.db import make_engine, make_sessionmaker
from storage.media import LocalMediaStore
from storage.models import (
    Area,
    Attachment,
    AuditEntry,
    Case,
    CaseEvent,
    CrosscheckChild,
    CrosscheckRun,
    Student,
)
from storage.uow import UnitOfWorkFactory
from tests.factories import build_world

runner = CliRunner()
CLOSED = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The CLI on the test database, photos under tmp_path/media, messages in English."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    get_settings.cache_clear()
    yield tmp_path / "media"
    get_settings.cache_clear()


async def _with_uow(url: str, work):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        return await work(UnitOfWorkFactory(make_sessionmaker(engine)))
    finally:
        await engine.dispose()


def _world(url: str, media_dir: Path, status: str = "closed") -> dict[str, object]:
    """Two pupils, each with a case and a photo; returns the first pupil's number and ids."""

    async def build(uow_factory: UnitOfWorkFactory) -> dict[str, object]:
        world = await build_world(uow_factory, pupils_per_class=1)
        media = LocalMediaStore(media_dir)
        found: dict[str, object] = {}
        async with uow_factory() as uow:
            for n, pupil in enumerate(world.students):
                case = Case(number=f"C-{n}", student_id=pupil.id, status=status if n == 0 else "closed",
                            opened_at=CLOSED - timedelta(days=30), updated_at=CLOSED,
                            closed_at=CLOSED if status == "closed" or n else None,
                            reason=f"reason of pupil {n}",
                            responsible_teacher_id=world.staff["teacher_a"].id,
                            next_step="first_visit" if status != "closed" and n == 0 else None,
                            next_step_due_at=CLOSED + timedelta(days=600) if status != "closed" and n == 0 else None)  # fmt: skip
                uow.session.add(case)
                await uow.flush()
                event = CaseEvent(case_id=case.id, kind="visit_logged", occurred_at=CLOSED, recorded_at=CLOSED,
                                  data={"mode": "home", "note": f"note of pupil {n}"})  # fmt: skip
                uow.session.add(event)
                await uow.flush()
                original = await media.put(f"photo of pupil {n}".encode())
                photo = Attachment(case_id=case.id, event_id=event.id, sha256=original, received_sha256=original,
                                   media_type="image/jpeg", size_bytes=10, created_at=CLOSED)  # fmt: skip
                uow.session.add(photo)
                uow.session.add(AuditEntry(at=CLOSED, actor_label="web:chen", action="view", entity="case",
                                           entity_id=str(case.id), detail={}))  # fmt: skip
                await uow.flush()
                found[f"number{n}"], found[f"name{n}"] = pupil.student_number, pupil.name
                found[f"case{n}"], found[f"photo{n}"], found[f"key{n}"] = case.id, photo.id, original
                found[f"student{n}"] = pupil.id
            await uow.commit()
        return found

    return asyncio.run(_with_uow(url, build))  # type: ignore[no-any-return]


def _read(url: str, model: type, row_id: int) -> object:
    async def read(uow_factory: UnitOfWorkFactory) -> object:
        async with uow_factory() as uow:
            return await uow.session.get(model, row_id)

    return asyncio.run(_with_uow(url, read))


def _audit(url: str, action: str) -> list[AuditEntry]:
    async def read(uow_factory: UnitOfWorkFactory) -> list[AuditEntry]:
        async with uow_factory() as uow:
            return list(await uow.audit.entries(action))

    return asyncio.run(_with_uow(url, read))


def test_export_holds_the_students_data_and_nothing_of_others(
    env: Path, database_url: str, tmp_path: Path
) -> None:
    w = _world(database_url, env)
    out = tmp_path / "request" / "export.zip"

    result = runner.invoke(cli, ["subject", "export", "--student", str(w["number0"]), "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "1 case(s)" in result.output and oct(out.stat().st_mode & 0o777) == "0o600"
    with zipfile.ZipFile(out) as archive:
        document = json.loads(archive.read("subject.json"))
        files = archive.namelist()
        raw = b"".join(archive.read(name) for name in files)
    assert document["student"]["name"] == w["name0"] and document["student"]["student_number"] == w["number0"]
    [case] = document["cases"]
    assert case["reason"] == "reason of pupil 0" and case["events"][0]["data"]["note"] == "note of pupil 0"
    assert [p["id"] for p in document["photos"]] == [w["photo0"]]
    assert f"photos/{w['photo0']}-original.jpg" in files
    assert [(a["action"], a["entity_id"]) for a in document["audit"]] == [("view", str(w["case0"]))]
    for other in (str(w["name1"]), str(w["number1"]), "pupil 1"):
        assert other.encode() not in raw
    [entry] = _audit(database_url, "export")
    assert entry.entity == "student" and entry.entity_id == str(w["student0"]) and entry.actor_label == "cli"
    # An existing file is never overwritten.
    again = runner.invoke(cli, ["subject", "export", "--student", str(w["number0"]), "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output


def _saved_crosscheck(url: str, w: dict[str, object]) -> list[int]:
    """A saved cross-check naming both pupils (by roster row), and one more child by ID number only."""

    async def save(uow_factory: UnitOfWorkFactory) -> list[int]:
        async with uow_factory() as uow:
            county = await uow.session.scalar(select(Area).where(Area.level == "county"))
            assert county is not None
            run = CrosscheckRun(area_id=county.id, created_at=CLOSED, cutoff=date(2026, 8, 31))
            uow.session.add(run)
            await uow.flush()
            rows = [
                CrosscheckChild(
                    run_id=run.id,
                    key=f"CC-{n}",
                    bucket="present",
                    reason="present",
                    change="new",
                    name=str(w[f"name{n}"]),
                    student_id=int(w[f"student{n}"]),  # type: ignore[call-overload]
                    registered_address="测试县某村",
                )
                for n in (0, 1)
            ]
            uow.session.add_all(rows)
            await uow.commit()
            return [r.id for r in rows]

    return asyncio.run(_with_uow(url, save))  # type: ignore[no-any-return]


def test_erase_removes_the_student_and_their_photos_and_is_audited(env: Path, database_url: str) -> None:
    w = _world(database_url, env)
    media = LocalMediaStore(env)
    saved = _saved_crosscheck(database_url, w)

    unconfirmed = runner.invoke(cli, ["subject", "erase", "--student", str(w["number0"])])
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    assert asyncio.run(media.exists(str(w["key0"])))

    result = runner.invoke(cli, ["subject", "erase", "--student", str(w["number0"]), "--yes"])

    assert result.exit_code == 0, result.output
    assert "1 case(s) anonymised, 1 photo(s) and 1 file(s) deleted" in result.output
    student = _read(database_url, Student, int(w["student0"]))  # type: ignore[call-overload]
    assert isinstance(student, Student) and student.name == "***" and student.guardian_phone is None
    case = _read(database_url, Case, int(w["case0"]))  # type: ignore[call-overload]
    assert isinstance(case, Case) and case.reason is None and case.anonymised_at is not None
    assert _read(database_url, Attachment, int(w["photo0"])) is None  # type: ignore[call-overload]
    assert not asyncio.run(media.exists(str(w["key0"])))
    # The other pupil is untouched.
    assert asyncio.run(media.exists(str(w["key1"])))
    other = _read(database_url, Student, int(w["student1"]))  # type: ignore[call-overload]
    assert isinstance(other, Student) and other.name == w["name1"]
    # The saved cross-check keeps the erased pupil's bucket, not their name or address.
    erased, kept = (_read(database_url, CrosscheckChild, i) for i in saved)
    assert isinstance(erased, CrosscheckChild) and erased.name == "" and erased.registered_address is None
    assert erased.bucket == "present" and erased.student_id == w["student0"]
    assert isinstance(kept, CrosscheckChild) and kept.name == w["name1"] and kept.registered_address
    [entry] = _audit(database_url, "erase")
    assert entry.entity_id == str(w["student0"]) and entry.detail == {
        "request": "subject",
        "cases": 1,
        "photos": 1,
    }
    assert str(w["name0"]) not in json.dumps(entry.detail, ensure_ascii=False)


@pytest.mark.silent_cases_allowed  # the open case is built by hand, without its reminders
def test_erase_is_refused_while_a_case_is_open(env: Path, database_url: str) -> None:
    w = _world(database_url, env, status="persuading")

    result = runner.invoke(cli, ["subject", "erase", "--student", str(w["number0"]), "--yes"])

    assert result.exit_code == 1 and "open case (C-0)" in result.output
    student = _read(database_url, Student, int(w["student0"]))  # type: ignore[call-overload]
    assert isinstance(student, Student) and student.name == w["name0"]
    assert asyncio.run(LocalMediaStore(env).exists(str(w["key0"])))
    assert _audit(database_url, "erase") == []


def test_an_unknown_student_is_reported_masked(env: Path, database_url: str) -> None:
    _world(database_url, env)
    result = runner.invoke(cli, ["subject", "erase", "--student", "G110101200505010012", "--yes"])
    assert result.exit_code == 1 and "No student with number G110101********0012" in result.output


def test_retention_run_prints_counts_and_a_dry_run_changes_nothing(env: Path, database_url: str) -> None:
    _world(database_url, env)
    dry = runner.invoke(cli, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output and "ended cases anonymised: 0" in dry.output
    done = runner.invoke(cli, ["retention", "run"])
    assert done.exit_code == 0 and "Retention clean-up done" in done.output
