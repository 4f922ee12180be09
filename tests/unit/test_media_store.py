"""LocalMediaStore: content addressing, key validation, atomic writes, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from storage.media import (
    InvalidMediaKey,
    LocalMediaStore,
    MediaCorrupted,
    MediaNotFound,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_put_returns_the_sha256_and_get_round_trips(store: LocalMediaStore) -> None:
    data = b"\xff\xd8 photo bytes \x00\x01"
    key = await store.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert await store.get(key) == data
    assert await store.exists(key)


async def test_files_are_sharded_by_hash_prefix(store: LocalMediaStore) -> None:
    key = await store.put(b"sharded")
    assert (store.root / key[:2] / key[2:4] / key).read_bytes() == b"sharded"


async def test_identical_bytes_are_stored_once(store: LocalMediaStore) -> None:
    first = await store.put(b"same photo")
    second = await store.put(b"same photo")
    assert first == second
    assert len(stored_files(store.root)) == 1


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "../../" + "a" * 58, "A" * 64, "a" * 63, "a" * 65, "", "ab/cd", "/" + "a" * 63],
)
async def test_keys_that_are_not_lowercase_sha256_are_refused(store: LocalMediaStore, key: str) -> None:
    with pytest.raises(InvalidMediaKey):
        await store.get(key)
    with pytest.raises(InvalidMediaKey):
        await store.exists(key)
    with pytest.raises(InvalidMediaKey):
        await store.delete(key)


async def test_unknown_key_is_not_found(store: LocalMediaStore) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not await store.exists(missing)
    with pytest.raises(MediaNotFound):
        await store.get(missing)


async def test_altered_file_is_reported_as_corrupted(store: LocalMediaStore) -> None:
    key = await store.put(b"original evidence")
    (store.root / key[:2] / key[2:4] / key).write_bytes(b"edited evidence")
    with pytest.raises(MediaCorrupted):
        await store.get(key)


async def test_delete_removes_content_once(store: LocalMediaStore) -> None:
    key = await store.put(b"expires after retention")
    assert await store.delete(key) is True
    assert not await store.exists(key)
    assert await store.delete(key) is False


async def test_concurrent_puts_store_every_blob_once_and_leave_no_temp_files(store: LocalMediaStore) -> None:
    blobs = [f"photo {i}".encode() * 1000 for i in range(20)]
    keys = await asyncio.gather(*(store.put(blob) for blob in blobs * 3))
    assert keys == [hashlib.sha256(blob).hexdigest() for blob in blobs * 3]
    files = stored_files(store.root)
    assert len(files) == 20 and not [f for f in files if f.name.startswith(".tmp-")]
    assert await asyncio.gather(*(store.get(key) for key in keys[:20])) == blobs
