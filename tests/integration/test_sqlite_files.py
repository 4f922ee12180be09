"""The SQLite database holds minors' records: its file, -wal and -shm are the owner's alone (0600),
whatever the umask, also when an older version had left them world-readable."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what SQLite would turn into 0644 files
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _write(path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        # -wal and -shm exist while a connection is open
        async with engine.connect() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        await engine.dispose()


async def test_a_new_database_file_is_private(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "data" / "notoneless.db"
    await _write(path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # the folder it created, too


async def test_an_existing_world_readable_database_is_made_private(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "old.db"
    await _write(path)
    for f in tmp_path.iterdir():
        f.chmod(0o644)
    await _write(path)
    assert mode(path) == 0o600
