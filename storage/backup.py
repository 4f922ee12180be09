"""Backup and restore of a deployment: the database and the photo store in one verifiable file.

`create_backup` dumps the database first and copies the photos after: the store only grows (retention
aside), so every photo the dumped rows name is on disk by then. `restore_backup` checks everything it can
before it writes anything: the kind of database, that the target is empty, and every file's SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from storage.backup_archive import (
    DATABASE_FILES,
    MEDIA_MEMBER,
    ArchiveWriter,
    Manifest,
    OutputExists,
    extract,
    open_archive,
    verify,
)
from storage.backup_db import (
    KindMismatch,
    RowsDiffer,
    database_kind,
    ensure_pg_target_free,
    ensure_sqlite_target_free,
    pg_rows,
    restore_postgres,
    restore_sqlite,
    snapshot_postgres,
    snapshot_sqlite,
    sqlite_file,
    sqlite_rows,
)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    size: int
    damaged: list[str] = field(default_factory=list)  # photos whose bytes no longer match their name


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    photos_copied: int
    photos_present: int


def output_path(out: Path, now: datetime, directory: bool = False) -> Path:
    """`out` itself, or a dated file inside it when it is (or is meant as) a directory: what a nightly
    job wants."""
    return out / f"notoneless-{now:%Y%m%d-%H%M%S}.tar" if directory or out.is_dir() else out


async def create_backup(
    database_url: str, media_dir: Path, out: Path, now: datetime, directory: bool = False
) -> BackupResult:
    """Writes the backup file (0600) and returns what it holds; never overwrites a file. `directory`:
    `out` names a directory (made if missing) for a dated file."""
    path = output_path(out, now, directory)
    if path.exists():
        raise OutputExists(path=str(path))
    _private_dir(path.parent)
    kind = database_kind(database_url)
    writer = ArchiveWriter(path)
    try:
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".notoneless-backup-") as work:
            dump = Path(work) / DATABASE_FILES[kind]
            if kind == "sqlite":
                snapshot = snapshot_sqlite(database_url, dump)
            else:
                snapshot = await snapshot_postgres(database_url, dump)
            writer.add_file(DATABASE_FILES[kind], dump)
        damaged = _add_photos(writer, Path(media_dir))
        manifest = Manifest(
            created_at=now.isoformat(timespec="seconds"),
            database_kind=kind,
            schema_revision=snapshot.revision,
            rows=snapshot.rows,
            files=dict(writer.files),
        )
        writer.commit(manifest)
    except BaseException:
        writer.abandon()
        raise
    return BackupResult(path, manifest, path.stat().st_size, damaged)


def _photo_files(media_dir: Path) -> Iterator[tuple[str, Path]]:
    """(member name, file) of every stored photo, in order; temporary files of a write in progress skipped."""
    if not media_dir.is_dir():
        return
    for first in sorted(os.scandir(media_dir), key=lambda e: e.name):
        if not first.is_dir():
            continue
        for second in sorted(os.scandir(first.path), key=lambda e: e.name):
            if not second.is_dir():
                continue
            for entry in sorted(os.scandir(second.path), key=lambda e: e.name):
                name = f"media/{first.name}/{second.name}/{entry.name}"
                if MEDIA_MEMBER.match(name) and entry.is_file():
                    yield name, Path(entry.path)


def _add_photos(writer: ArchiveWriter, media_dir: Path) -> list[str]:
    """Adds every photo whose bytes still hash to its name; returns the names of those that do not."""
    damaged = []
    for name, file in _photo_files(media_dir):
        try:
            data = file.read_bytes()  # photos are small: read once, hash, add the same bytes
        except FileNotFoundError:
            continue  # deleted by retention meanwhile
        if hashlib.sha256(data).hexdigest() != file.name:
            damaged.append(name)
            continue
        writer.add_bytes(name, data)
    return damaged


async def restore_backup(archive: Path, database_url: str, media_dir: Path) -> RestoreResult:
    """Restores the backup into an empty database and the photo store, after checking every file."""
    tar, manifest = open_archive(archive)
    with tar:
        kind = database_kind(database_url)
        if manifest.database_kind != kind:
            raise KindMismatch(backup_kind=manifest.database_kind, target_kind=kind)
        if kind == "sqlite":
            ensure_sqlite_target_free(database_url)
        else:
            await ensure_pg_target_free(database_url)
        verify(tar, manifest)
        # Photos first: copying them is harmless to repeat, so a failed database restore can simply be
        # run again (the database is still empty then).
        copied, present = _restore_photos(tar, manifest, Path(media_dir))
        if kind == "sqlite":
            restore_sqlite(tar, manifest, database_url)
            rows = sqlite_rows(sqlite_file(database_url))
        else:
            await restore_postgres(tar, manifest, database_url)
            rows = await pg_rows(database_url)
    for table, expected in sorted(manifest.rows.items()):
        if rows.get(table) != expected:
            raise RowsDiffer(table=table, expected=expected, found=rows.get(table, 0))
    return RestoreResult(manifest, copied, present)


def _private_dir(path: Path) -> None:
    """Creates `path` and any missing parents as 0700 (a parent that exists keeps its mode)."""
    if not path.is_dir():
        _private_dir(path.parent)
        path.mkdir(mode=0o700, exist_ok=True)


def _holds(path: Path, key: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == key
    except FileNotFoundError:
        return False


def _restore_photos(tar: tarfile.TarFile, manifest: Manifest, media_dir: Path) -> tuple[int, int]:
    """Copies every photo into the store (0600 files, atomically); returns (copied, already there)."""
    copied = present = 0
    for name in manifest.media:
        key = name.rsplit("/", 1)[1]
        target = media_dir / name.removeprefix("media/")
        if _holds(target, key):
            present += 1
            continue
        _private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")  # the store's own temp prefix
        try:
            with os.fdopen(fd, "wb") as handle:
                extract(tar, name, manifest.files[name], handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)  # also over a damaged copy of the same photo
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        copied += 1
    return copied, present
