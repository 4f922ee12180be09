"""The backup manifest and pg_dump's connection: only what the format allows gets in, and the password
travels in the environment, never on a command line."""

from __future__ import annotations

import pytest

from storage.backup_archive import Manifest, NotABackup
from storage.backup_db import pg_environment

KEY = "ab" * 32


def manifest(**files: str) -> Manifest:
    return Manifest("2026-10-13T01:00:00+00:00", "sqlite", "0010", {"cases": 3}, files)


def test_a_manifest_reads_back_what_was_written() -> None:
    written = manifest(**{"database.sqlite": KEY, f"media/ab/ab/{KEY}": KEY})
    assert Manifest.from_json(written.to_json()) == written
    assert written.media == [f"media/ab/ab/{KEY}"]


@pytest.mark.parametrize(
    "name",
    ["../etc/passwd", "/etc/passwd", f"media/ab/cd/{KEY}", "media/ab/ab/notahash", "database.pgdump"],
)
def test_a_manifest_listing_a_path_outside_the_layout_is_not_a_backup(name: str) -> None:
    with pytest.raises(NotABackup):
        Manifest.from_json(manifest(**{"database.sqlite": KEY, name: KEY}).to_json())


def test_a_manifest_without_the_database_dump_is_not_a_backup() -> None:
    with pytest.raises(NotABackup):
        Manifest.from_json(manifest(**{f"media/ab/ab/{KEY}": KEY}).to_json())


@pytest.mark.parametrize("data", [b"", b"[]", b'{"format": "other"}', b"\xff\xfe"])
def test_a_foreign_manifest_is_not_a_backup(data: bytes) -> None:
    with pytest.raises(NotABackup):
        Manifest.from_json(data)


def test_pg_dump_gets_the_password_in_its_environment() -> None:
    env = pg_environment("postgresql+asyncpg://nol:s%40cret@db.local:5433/county?ssl=require")
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "db.local",
        "5433",
        "nol",
        "county",
    )
    assert env["PGPASSWORD"] == "s@cret" and env["PGSSLMODE"] == "require"


def test_pg_dump_ignores_libpq_settings_of_the_calling_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "someone-elses")
    monkeypatch.setenv("PGSERVICE", "elsewhere")
    env = pg_environment("postgresql+asyncpg://nol@127.0.0.1/county")
    assert "PGPASSWORD" not in env and "PGSERVICE" not in env
