"""The database half of a backup: one consistent snapshot while the bot keeps writing, and a restore
into an empty database. SQLite through its online backup API; PostgreSQL through pg_dump/pg_restore."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.backup_archive import BackupFailed, BackupRefused, Manifest, extract
from storage.db import make_engine


class SourceMissing(BackupRefused):
    """The SQLite file to back up does not exist (a wrong DATABASE_URL, or a fresh machine)."""


class TargetNotEmpty(BackupRefused):
    """The database to restore into already has tables: a restore never merges into live data."""


class TargetExists(BackupRefused):
    """The SQLite file to restore into (or its -wal journal) is already there."""


class KindMismatch(BackupRefused):
    """A SQLite backup cannot be restored into PostgreSQL, nor the other way round."""


class ToolFailed(BackupFailed):
    """pg_dump, pg_restore or SQLite's own check reported an error."""


class RowsDiffer(BackupFailed):
    """After the restore a table does not hold the row count the manifest recorded."""


@dataclass(frozen=True)
class Snapshot:
    """What the manifest records about the dumped database, read from the dump's own moment."""

    revision: str | None
    rows: dict[str, int]


def database_kind(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def sqlite_file(url: str) -> Path:
    return Path(make_url(url).database or "")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(stderr: bytes) -> str:
    """The tool's first error line (the CLI masks ID and mobile numbers in it: it may quote a value)."""
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[0][:300] if lines else "no message"


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(str(r[0]) for r in rows)


def sqlite_rows(path: Path) -> dict[str, int]:
    """Rows per table of a SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0])
            for t in _sqlite_tables(conn)
        }


def snapshot_sqlite(url: str, dest: Path) -> Snapshot:
    """Copies the live SQLite database to `dest` as it is at one moment, while others write."""
    path = sqlite_file(url)
    if not path.is_file():
        raise SourceMissing(path=str(path))
    with (
        contextlib.closing(sqlite3.connect(path, timeout=30)) as source,
        contextlib.closing(sqlite3.connect(dest)) as target,
    ):
        # pages=-1 (the default): every page in one step inside one read transaction, so the copy is one
        # consistent moment; in WAL mode the bot's writes go on meanwhile and simply are not in it.
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        if target.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise ToolFailed(tool="sqlite", message="the copy failed PRAGMA quick_check")
        tables = _sqlite_tables(target)
        revision = None
        if "alembic_version" in tables:
            found = target.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = str(found[0]) if found else None
        rows = {t: int(target.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0]) for t in tables}
    dest.chmod(0o600)
    return Snapshot(revision, rows)


def ensure_sqlite_target_free(url: str) -> None:
    """Refuses unless the target file (and its -wal journal, which SQLite would replay) is absent."""
    path = sqlite_file(url)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        raise TargetExists(path=str(wal))
    if not path.exists():
        return
    try:
        tables = len(sqlite_rows(path))
    except sqlite3.Error:
        raise TargetExists(path=str(path)) from None
    if tables:
        raise TargetNotEmpty(tables=tables)
    raise TargetExists(path=str(path))


def restore_sqlite(tar: tarfile.TarFile, manifest: Manifest, url: str) -> None:
    """Writes the dumped file as the target database (0600), never over a file that appeared meanwhile."""
    path = sqlite_file(url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.restore-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            extract(tar, manifest.database_file, manifest.files[manifest.database_file], handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise TargetExists(path=str(path)) from None
    finally:
        os.unlink(tmp)


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_environment(url: str) -> dict[str, str]:
    """libpq's environment for pg_dump/pg_restore: the password travels in PGPASSWORD, never in argv
    (where `ps` shows it to every user of the machine)."""
    u = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    query = {k: v if isinstance(v, str) else v[0] for k, v in u.query.items()}
    settings = {
        "PGHOST": u.host or query.get("host"),
        "PGPORT": str(u.port) if u.port else query.get("port"),
        "PGUSER": u.username,
        "PGPASSWORD": u.password,
        "PGDATABASE": u.database,
        "PGSSLMODE": query.get("sslmode") or query.get("ssl"),
        "PGCONNECT_TIMEOUT": "15",
    }
    env.update({k: str(v) for k, v in settings.items() if v})
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolFailed(tool=name, message=f"{name} is not installed (apt install postgresql-client)")
    return found


async def _pg_tables(conn: AsyncConnection) -> list[str]:
    found = await conn.execute(
        text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    )
    return sorted(str(r[0]) for r in found)


async def _pg_rows(conn: AsyncConnection) -> dict[str, int]:
    return {
        t: int((await conn.execute(text(f"SELECT count(*) FROM {_quoted(t)}"))).scalar_one())
        for t in await _pg_tables(conn)
    }


async def pg_rows(url: str) -> dict[str, int]:
    """Rows per table of the PostgreSQL database's schema."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await _pg_rows(conn)
    finally:
        await engine.dispose()


async def snapshot_postgres(url: str, dest: Path) -> Snapshot:
    """pg_dump (custom format) to `dest`, in a snapshot exported from our own transaction, so the row
    counts and the revision in the manifest are those of the very moment that was dumped."""
    pg_dump = _tool("pg_dump")
    engine = make_engine(url)
    try:
        async with engine.connect() as plain:
            conn = await plain.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                await conn.execute(text("SET TRANSACTION READ ONLY"))
                snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
                dump = await asyncio.create_subprocess_exec(
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={dest}",
                    env=pg_environment(url),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
                try:
                    rows = await _pg_rows(conn)
                    revision = None
                    if "alembic_version" in rows:
                        found = await conn.execute(text("SELECT version_num FROM alembic_version"))
                        revision = found.scalar_one_or_none()
                    _, stderr = await dump.communicate()
                finally:
                    if dump.returncode is None:
                        dump.kill()
                        await dump.wait()
    finally:
        await engine.dispose()
    if dump.returncode != 0:
        raise ToolFailed(tool="pg_dump", message=_first_line(stderr))
    dest.chmod(0o600)
    return Snapshot(revision, rows)


async def ensure_pg_target_free(url: str) -> None:
    """Refuses unless the target database has no table in any schema of its own."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    if tables:
        raise TargetNotEmpty(tables=int(tables))


def _conninfo_dbname(name: str) -> str:
    """`--dbname` as a conninfo string, so a name with '=' is not taken for one; libpq quoting."""
    return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def restore_postgres(tar: tarfile.TarFile, manifest: Manifest, url: str) -> None:
    """pg_restore into the empty target, all in one transaction: it either lands whole or not at all."""
    pg_restore = _tool("pg_restore")
    with tempfile.TemporaryDirectory(prefix="notoneless-restore-") as work:  # mode 0700
        dump = Path(work) / manifest.database_file
        with dump.open("wb") as handle:
            extract(tar, manifest.database_file, manifest.files[manifest.database_file], handle)
        process = await asyncio.create_subprocess_exec(
            pg_restore,
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            f"--dbname={_conninfo_dbname(make_url(url).database or '')}",
            str(dump),
            env=pg_environment(url),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
    if process.returncode != 0:
        raise ToolFailed(tool="pg_restore", message=_first_line(stderr))
