"""Content-addressed storage for photo bytes: the key is the SHA-256 of the content.

`MediaStore` is the interface the rest of the code depends on. `LocalMediaStore` keeps files on
a local disk; an S3-compatible backend (MinIO, OSS, COS) can implement the same protocol later,
using the key as the object name, without any caller changing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[0-9a-f]{64}$")


class InvalidMediaKey(ValueError):
    """The key is not 64 lowercase hex characters, so it cannot name stored content."""


class MediaNotFound(LookupError):
    """No content is stored under this key."""


class MediaCorrupted(OSError):
    """Stored bytes no longer hash to their key: the evidence file was altered or damaged."""


def validate_key(key: str) -> str:
    """Returns `key` if it is a SHA-256 hex digest; keys become file names, so nothing else passes."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidMediaKey(repr(key)[:80])
    return key


class MediaStore(Protocol):
    """Where photo bytes live, addressed by their SHA-256."""

    async def put(self, data: bytes) -> str:
        """Stores `data` (once, however often it is given) and returns its SHA-256 key."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes stored under `key`; raises MediaNotFound if there are none."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether content is stored under `key`."""
        ...

    async def delete(self, key: str) -> bool:
        """Removes the content (retention limits); returns whether anything was there."""
        ...


class LocalMediaStore:
    """Files under `root/ab/cd/<sha256>`; writes are atomic, so readers never see half a file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        validate_key(key)
        # Two levels of 256 directories keep each directory small at millions of photos.
        return self.root / key[:2] / key[2:4] / key

    def _write(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        # Temp file in the target directory, so os.replace is a rename within one file system.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            # Concurrent puts of the same bytes both land here; the rename is atomic and the
            # content identical, so whichever wins is correct.
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return key

    def _read(self, key: str) -> bytes:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            raise MediaNotFound(key) from None
        if hashlib.sha256(data).hexdigest() != key:
            raise MediaCorrupted(f"content of {key} does not match its hash")
        return data

    def _delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def _keys_older_than(self, before: float) -> Iterator[str]:
        for first in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for path in sorted(first.glob("[0-9a-f][0-9a-f]/*")):
                if _KEY.fullmatch(path.name) and path.stat().st_mtime < before:
                    yield path.name

    async def keys_older_than(self, before: float) -> list[str]:
        """Keys of the files written before `before` (a POSIX time): the retention job's sweep for
        files no row names (an upload whose transaction failed), given time to commit first."""
        return await asyncio.to_thread(lambda: list(self._keys_older_than(before)))

    async def put(self, data: bytes) -> str:
        """Stores `data` (once, however often it is given) and returns its SHA-256 key."""
        return await asyncio.to_thread(self._write, data)

    async def get(self, key: str) -> bytes:
        """The bytes stored under `key`, checked against the hash; raises MediaNotFound if absent."""
        validate_key(key)
        return await asyncio.to_thread(self._read, key)

    async def exists(self, key: str) -> bool:
        """Whether content is stored under `key`."""
        path = self._path(key)
        return await asyncio.to_thread(path.is_file)

    async def delete(self, key: str) -> bool:
        """Removes the content (retention limits); returns whether anything was there."""
        validate_key(key)
        return await asyncio.to_thread(self._delete, key)
