"""`notoneless backup` and `notoneless restore` on real databases: a round trip keeps every row and photo;
a non-empty target, a tampered file, another kind of database or a foreign file is refused (exit 2) and
changes nothing."""

from __future__ import annotations

import asyncio
import io
import stat
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from app.settings import get_settings
from storage.db import make_engine, make_sessionmaker
from storage.media import LocalMediaStore
from storage.uow import UnitOfWorkFactory
from tests import db
from tests.factories import build_world
from tests.snapshots import all_rows, photos, row_counts

runner = CliRunner()


def notoneless(monkeypatch: pytest.MonkeyPatch, url: str, media: Path, *args: str) -> Result:
    """The command as an operator runs it, with DATABASE_URL and MEDIA_DIR set."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MEDIA_DIR", str(media))
    get_settings.cache_clear()
    try:
        return runner.invoke(cli, list(args))
    finally:
        get_settings.cache_clear()


@pytest.fixture
def source(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fictional county in the database and two photos in its store; returns the store."""
    monkeypatch.chdir(tmp_path)
    media = tmp_path / "media"

    async def fill() -> None:
        engine = make_engine(database_url)
        try:
            await build_world(UnitOfWorkFactory(make_sessionmaker(engine)), pupils_per_class=2)
        finally:
            await engine.dispose()
        store = LocalMediaStore(media)
        await store.put(b"\xff\xd8 a fictional photo \xff\xd9")
        await store.put(b"\xff\xd8 another fictional photo \xff\xd9")

    asyncio.run(fill())
    return media


@pytest.fixture
async def empty_target(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of the same kind with nothing in it: a new SQLite path, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'notoneless.db'}"
        return
    dsn = await db.create_pg_database("nol_restore")
    try:
        yield db.sqlalchemy_url(dsn)
    finally:
        await db.drop_pg_database(dsn)


def untouched(empty_target: str) -> bool:
    """The SQLite file was not created, or the PostgreSQL database still has no table."""
    if empty_target.startswith("sqlite"):
        return not Path(empty_target.split("///", 1)[1]).exists()
    return asyncio.run(row_counts(empty_target)) == {}


def backup(monkeypatch: pytest.MonkeyPatch, database_url: str, media: Path, out: Path) -> Path:
    result = notoneless(monkeypatch, database_url, media, "backup", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_restore_brings_back_every_row_and_photo_into_an_empty_database(
    database_url: str, source: Path, empty_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = backup(monkeypatch, database_url, source, tmp_path / "nightly.tar")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    restored_media = tmp_path / "restored-media"
    result = notoneless(monkeypatch, empty_target, restored_media, "restore", str(archive))

    assert result.exit_code == 0, result.output
    assert "照片 2 张" in result.output and "新复制 2 张" in result.output
    assert asyncio.run(all_rows(empty_target)) == asyncio.run(all_rows(database_url))
    assert photos(restored_media) == photos(source)
    for path in restored_media.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_backup_into_a_directory_names_the_file_by_its_time(
    database_url: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    result = notoneless(monkeypatch, database_url, source, "backup", str(folder))
    assert result.exit_code == 0, result.output
    [written] = list(folder.iterdir())
    assert written.name.startswith("notoneless-") and written.suffix == ".tar"
    assert str(written) in result.output

    # A directory that does not exist yet, named with a trailing slash (a nightly job's first night).
    result = notoneless(monkeypatch, database_url, source, "backup", f"{tmp_path / 'new' / 'nightly'}/")
    assert result.exit_code == 0, result.output
    [written] = list((tmp_path / "new" / "nightly").iterdir())
    assert written.name.startswith("notoneless-")
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700


def test_backup_never_overwrites_a_file(
    database_url: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "kept.tar"
    out.write_bytes(b"an older backup")
    result = notoneless(monkeypatch, database_url, source, "backup", str(out))
    assert result.exit_code == 2
    assert "已存在" in result.output
    assert out.read_bytes() == b"an older backup"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_restore_into_a_database_that_is_not_empty_is_refused_and_changes_nothing(
    database_url: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = backup(monkeypatch, database_url, source, tmp_path / "nightly.tar")
    rows_before, photos_before = asyncio.run(all_rows(database_url)), photos(source)

    result = notoneless(monkeypatch, database_url, source, "restore", str(archive))

    assert result.exit_code == 2, result.output
    assert "目标数据库不是空的" in result.output and "未做任何改动" in result.output
    assert asyncio.run(all_rows(database_url)) == rows_before
    assert photos(source) == photos_before


def rewrite(archive: Path, out: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """A copy of the backup with `change` applied to each member's bytes (None drops the member)."""
    with tarfile.open(archive) as old, tarfile.open(out, "w") as new:
        for member in old.getmembers():
            handle = old.extractfile(member)
            assert handle is not None
            data = change(member.name, handle.read())
            if data is not None:
                member.size = len(data)
                new.addfile(member, io.BytesIO(data))
        if change("extra", b"") is not None:
            extra = tarfile.TarInfo("media/00/00/" + "0" * 64)
            new.addfile(extra, io.BytesIO(b""))
    return out


def _flip_photo(name: str, data: bytes) -> bytes | None:
    if name.startswith("media/"):
        return data[:-1] + bytes([data[-1] ^ 1])
    return None if name == "extra" else data


def _flip_database(name: str, data: bytes) -> bytes | None:
    if name.startswith("database."):
        return data[:100] + bytes([data[100] ^ 1]) + data[101:]
    return None if name == "extra" else data


def _drop_photo(name: str, data: bytes) -> bytes | None:
    return None if name.startswith("media/") or name == "extra" else data


def _add_file(name: str, data: bytes) -> bytes | None:
    return data


@pytest.mark.parametrize(
    ("change", "named", "says"),
    [
        (_flip_photo, "media/", "与清单记录的 SHA-256 不符"),
        (_flip_database, "database.", "与清单记录的 SHA-256 不符"),
        (_drop_photo, "media/", "不在备份中"),
        (_add_file, "media/00/00/", "不在清单中"),
    ],
    ids=["photo-changed", "database-changed", "photo-missing", "file-added"],
)
def test_a_tampered_backup_is_refused_with_the_file_named_and_nothing_restored(
    database_url: str,
    source: Path,
    empty_target: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[str, bytes], bytes | None],
    named: str,
    says: str,
) -> None:
    archive = backup(monkeypatch, database_url, source, tmp_path / "nightly.tar")
    tampered = rewrite(archive, tmp_path / "tampered.tar", change)
    restored_media = tmp_path / "restored-media"

    result = notoneless(monkeypatch, empty_target, restored_media, "restore", str(tampered))

    assert result.exit_code == 2, result.output
    assert says in result.output and named in result.output
    assert not restored_media.exists()
    assert untouched(empty_target)


def test_restore_into_the_other_kind_of_database_is_refused(
    database_url: str,
    backend: str,
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    archive = backup(monkeypatch, database_url, source, tmp_path / "nightly.tar")
    other = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    if backend == "sqlite":
        dsn = request.getfixturevalue("postgres_run_dsn")
        if dsn is None:
            pytest.skip("PostgreSQL not reachable (tests run on it under CI=true)")
        other = db.sqlalchemy_url(dsn)
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    result = notoneless(monkeypatch, other, tmp_path / "other-media", "restore", str(archive))
    assert result.exit_code == 2, result.output
    assert f"backup of a {backend} database" in result.output and "Nothing was changed" in result.output
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "other-media").exists()


def test_a_file_that_is_not_a_backup_is_refused(
    database_url: str, empty_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = tmp_path / "photos.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.addfile(tarfile.TarInfo("holiday.jpg"), io.BytesIO(b""))
    for path in (foreign, tmp_path / "missing.tar"):
        result = notoneless(monkeypatch, empty_target, tmp_path / "m", "restore", str(path))
        assert result.exit_code == 2, result.output
        assert "不是“一个都不能少”的备份文件" in result.output
    assert untouched(empty_target)
