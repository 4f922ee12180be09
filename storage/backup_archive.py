"""The backup file: one uncompressed tar holding the database dump, the photo store and a manifest.

Layout: `database.sqlite` or `database.pgdump`, `media/ab/cd/<sha256>` (the store's own layout) and
`manifest.json` last (it holds the SHA-256 of every other member, so it can only be written at the end).
Nothing is compressed: pg_dump's custom format is compressed already and JPEGs do not shrink.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT = "notoneless-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
MEDIA_MEMBER = re.compile(r"^media/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})$")
CHUNK = 1 << 20


class BackupRefused(Exception):
    """Refused before anything was written or changed; `params` fill the catalog message."""

    def __init__(self, **params: object) -> None:
        super().__init__(", ".join(f"{k}={v}" for k, v in params.items()))
        self.params = params


class BackupFailed(Exception):
    """Went wrong part of the way; `params` fill the catalog message."""

    def __init__(self, **params: object) -> None:
        super().__init__(", ".join(f"{k}={v}" for k, v in params.items()))
        self.params = params


class OutputExists(BackupRefused):
    """The backup file is there already: a backup never overwrites one."""


class NotABackup(BackupRefused):
    """The file is not a tar with a manifest this version can read."""


class FileDamaged(BackupRefused):
    """A member's bytes do not hash to what the manifest says."""


class FileMissing(BackupRefused):
    """The manifest lists a member the archive does not hold."""


class FileUnexpected(BackupRefused):
    """The archive holds a member the manifest does not list (or one that is not a plain file)."""


@dataclass
class Manifest:
    """What a backup holds; `files` maps every member but the manifest to its SHA-256."""

    created_at: str
    database_kind: str
    schema_revision: str | None
    rows: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def database_file(self) -> str:
        return DATABASE_FILES[self.database_kind]

    @property
    def media(self) -> list[str]:
        return sorted(name for name in self.files if name.startswith("media/"))

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "database_kind": self.database_kind,
            "schema_revision": self.schema_revision,
            "rows": self.rows,
            "files": self.files,
        }
        return json.dumps(body, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise NotABackup(reason="manifest.json is not a Not One Less manifest")
            if body.get("format_version") != FORMAT_VERSION:
                raise NotABackup(
                    reason=f"format version {body.get('format_version')} is not {FORMAT_VERSION}"
                )
            manifest = cls(
                created_at=str(body["created_at"]),
                database_kind=str(body["database_kind"]),
                schema_revision=body["schema_revision"],
                rows={str(k): int(v) for k, v in body["rows"].items()},
                files={str(k): str(v) for k, v in body["files"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotABackup(reason=f"manifest.json is unreadable ({type(exc).__name__})") from None
        if manifest.database_kind not in DATABASE_FILES or manifest.database_file not in manifest.files:
            raise NotABackup(reason="manifest.json names no database dump")
        for name in manifest.files:
            if name != manifest.database_file and not MEDIA_MEMBER.match(name):
                raise NotABackup(reason=f"manifest.json lists an unexpected file {name[:100]!r}")
        return manifest


class _Hashing(io.RawIOBase):
    """Reads a file and hashes what was read, so each file is read once on its way into the tar."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.sha = handle, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha.update(data)
        return data


class ArchiveWriter:
    """Writes the tar to a private temporary file next to `path`; `commit` moves it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.partial-")  # mode 0600
        self.partial = Path(partial)
        self.handle = os.fdopen(fd, "wb")
        self.tar = tarfile.open(fileobj=self.handle, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 (open until commit)
        self.files: dict[str, str] = {}

    def add_file(self, name: str, source: Path) -> str:
        """Adds `source` as `name` and returns its SHA-256; FileNotFoundError if it vanished."""
        with source.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            hashing = _Hashing(handle)
            self.tar.addfile(_member(name, size), hashing)
        self.files[name] = hashing.sha.hexdigest()
        return self.files[name]

    def add_bytes(self, name: str, data: bytes) -> None:
        """Adds `data` as `name`."""
        self.tar.addfile(_member(name, len(data)), io.BytesIO(data))
        self.files[name] = hashlib.sha256(data).hexdigest()

    def commit(self, manifest: Manifest) -> None:
        """Adds the manifest, flushes to disk and renames the file into place (never over another)."""
        data = manifest.to_json()
        self.tar.addfile(_member(MANIFEST, len(data)), io.BytesIO(data))
        self.tar.close()
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.link(self.partial, self.path)  # fails if a file of that name appeared meanwhile
        os.unlink(self.partial)

    def abandon(self) -> None:
        self.tar.close()
        self.handle.close()
        self.partial.unlink(missing_ok=True)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type = size, 0o600, tarfile.REGTYPE
    return info


def open_archive(path: Path) -> tuple[tarfile.TarFile, Manifest]:
    """Opens a backup and reads its manifest (NotABackup if it is something else)."""
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 (the caller closes it)
    except (OSError, tarfile.TarError) as exc:
        raise NotABackup(reason=f"not a readable tar file ({type(exc).__name__})") from None
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        if handle is None or member.size > 64 * CHUNK:
            raise KeyError(MANIFEST)
        return tar, Manifest.from_json(handle.read())
    except (KeyError, tarfile.TarError) as exc:
        tar.close()
        if isinstance(exc, KeyError):
            raise NotABackup(reason="it holds no manifest.json") from None
        raise NotABackup(reason=f"damaged tar file ({type(exc).__name__})") from None
    except BackupRefused:
        tar.close()
        raise


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def verify(tar: tarfile.TarFile, manifest: Manifest) -> None:
    """Checks every member against the manifest before anything is restored: all there, nothing more,
    each hashing to its recorded SHA-256 (and each photo to its own name)."""
    seen: set[str] = set()
    for member in tar.getmembers():
        if member.name == MANIFEST:
            continue
        if member.name not in manifest.files or not member.isreg() or member.name in seen:
            raise FileUnexpected(name=member.name[:200])
        handle = tar.extractfile(member)
        assert handle is not None  # a regular member always has content
        sha = hashlib.sha256()
        for chunk in _chunks(handle):
            sha.update(chunk)
        digest = sha.hexdigest()
        named = MEDIA_MEMBER.match(member.name)
        if digest != manifest.files[member.name] or (named and digest != named.group(3)):
            raise FileDamaged(name=member.name)
        seen.add(member.name)
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise FileMissing(name=missing[0])


def extract(tar: tarfile.TarFile, name: str, expected: str, into: IO[bytes]) -> None:
    """Copies one member into `into`, hashing again on the way (the file may change after `verify`)."""
    handle = tar.extractfile(name)
    if handle is None:
        raise FileMissing(name=name)
    sha = hashlib.sha256()
    for chunk in _chunks(handle):
        sha.update(chunk)
        into.write(chunk)
    if sha.hexdigest() != expected:
        raise FileDamaged(name=name)


def manifest_summary(manifest: Manifest) -> dict[str, Any]:
    """The figures the CLI prints about a backup."""
    return {
        "kind": manifest.database_kind,
        "revision": manifest.schema_revision or "-",
        "tables": len(manifest.rows),
        "rows": sum(manifest.rows.values()),
        "media": len(manifest.media),
    }
