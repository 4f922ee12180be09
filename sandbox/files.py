"""Stored files (uploads from bots and people), file ids and photo size variants."""

from __future__ import annotations

import io
import itertools
import mimetypes
import secrets
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from sandbox.errors import bad_request

# Telegram keeps a few JPEG variants of every photo, each bounded by this longest side.
PHOTO_SIDES = (90, 320, 800, 1280)
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
_FOLDERS = {
    "photo": "photos",
    "document": "documents",
    "voice": "voice",
    "video": "videos",
    "sticker": "stickers",
}


@dataclass
class StoredFile:
    """One file the emulator can serve through getFile and the download route."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None

    def file_object(self) -> dict:
        """Return the Bot API File object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class FileStore:
    """Keeps every file by id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = itertools.count(1)
        self._photo_sets: dict[str, list[dict]] = {}

    def add(
        self, data: bytes, kind: str, *, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        """Store bytes and return the record with fresh, Telegram-looking ids."""
        ext = _extension(file_name, mime_type, kind)
        number = next(self._counter)
        prefix = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "video": "BAAC"}.get(kind, "CAAC")
        stored = StoredFile(
            file_id=f"{prefix}{secrets.token_urlsafe(30)}",
            file_unique_id=f"AQAD{secrets.token_urlsafe(9)}",
            data=data,
            file_path=f"{_FOLDERS.get(kind, 'documents')}/file_{number}{ext}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """Return a file by id."""
        return self._by_id.get(file_id)

    def require(self, file_id: str) -> StoredFile:
        """Return a file by id or raise Telegram's error for a bad identifier."""
        found = self._by_id.get(file_id)
        if found is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return found

    def by_path(self, path: str) -> StoredFile | None:
        """Return a file by its download path."""
        return self._by_path.get(path)

    def add_photo(self, data: bytes) -> list[dict]:
        """Store a photo as several JPEG sizes and return the PhotoSize array (smallest first)."""
        try:
            image: Image.Image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise bad_request("IMAGE_PROCESS_FAILED") from exc
        image = image.convert("RGB")
        longest = max(image.size)
        sides = [s for s in PHOTO_SIDES if s < longest] + [min(longest, PHOTO_SIDES[-1])]
        sizes: list[dict[str, Any]] = []
        for side in dict.fromkeys(sides):
            variant = image.copy()
            variant.thumbnail((side, side))
            buffer = io.BytesIO()
            variant.save(buffer, format="JPEG", quality=85)
            stored = self.add(buffer.getvalue(), "photo", mime_type="image/jpeg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(stored.data),
                    "width": variant.width,
                    "height": variant.height,
                }
            )
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return [dict(size) for size in sizes]

    def photo_sizes(self, file_id: str) -> list[dict]:
        """Return the PhotoSize array for a photo sent again by file_id (any of its sizes)."""
        if file_id in self._photo_sets:
            return [dict(size) for size in self._photo_sets[file_id]]
        return self.add_photo(self.require(file_id).data)


def make_test_image(
    width: int = 640, height: int = 480, color: tuple[int, int, int] = (70, 130, 180), fmt: str = "JPEG"
) -> bytes:
    """Return a simple generated image (a coloured gradient) for simulated photos."""
    image = Image.new("RGB", (max(1, width), max(1, height)), color)
    gradient = Image.linear_gradient("L").resize(image.size)
    image = Image.composite(image, Image.new("RGB", image.size, (240, 240, 240)), gradient)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _extension(file_name: str | None, mime_type: str | None, kind: str) -> str:
    if file_name and "." in file_name:
        return "." + file_name.rsplit(".", 1)[1].lower()[:10]
    guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
    return guessed or {"photo": ".jpg", "voice": ".oga", "video": ".mp4", "sticker": ".webp"}.get(kind, "")
