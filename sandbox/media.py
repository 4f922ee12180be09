"""Message bodies for what simulated people send: photos, files, places, contacts, stickers, voice, video."""

from __future__ import annotations

import io
import mimetypes
from typing import Any

from PIL import Image

from sandbox.files import FileStore, StoredFile, make_test_image


def _file_info(stored: StoredFile) -> dict[str, Any]:
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(stored.data)}


def photo_body(
    files: FileStore,
    data: bytes | None = None,
    *,
    width: int = 1280,
    height: int = 960,
    caption: str | None = None,
) -> dict[str, Any]:
    """Return a photo message body; without bytes a test image of width x height is generated."""
    body: dict[str, Any] = {"photo": files.add_photo(data or make_test_image(width, height))}
    if caption:
        body["caption"] = caption
    return body


def document_body(
    files: FileStore, data: bytes, file_name: str, mime_type: str | None = None, caption: str | None = None
) -> dict[str, Any]:
    """Return a document message body (any file, images included, sent uncompressed)."""
    mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    stored = files.add(data, "document", file_name=file_name, mime_type=mime)
    body: dict[str, Any] = {"document": {**_file_info(stored), "file_name": file_name, "mime_type": mime}}
    if caption:
        body["caption"] = caption
    return body


def location_body(latitude: float, longitude: float) -> dict[str, Any]:
    """Return a location message body."""
    return {"location": {"latitude": float(latitude), "longitude": float(longitude)}}


def contact_body(
    phone_number: str, first_name: str, last_name: str | None = None, user_id: int | None = None
) -> dict[str, Any]:
    """Return a contact message body (user_id set when people share their own number)."""
    contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
    if last_name:
        contact["last_name"] = last_name
    if user_id is not None:
        contact["user_id"] = user_id
    return {"contact": contact}


def sticker_body(files: FileStore, emoji: str = "👍") -> dict[str, Any]:
    """Return a static 512x512 WebP sticker message body."""
    buffer = io.BytesIO()
    Image.new("RGBA", (512, 512), (255, 200, 0, 255)).save(buffer, format="WEBP")
    stored = files.add(buffer.getvalue(), "sticker", mime_type="image/webp")
    return {
        "sticker": {
            **_file_info(stored),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
    }


def voice_body(files: FileStore, duration: int = 2, data: bytes | None = None) -> dict[str, Any]:
    """Return a voice message body; the bytes are a stand-in, not playable audio."""
    stored = files.add(data or b"OggS" + bytes(2048 * max(1, duration)), "voice", mime_type="audio/ogg")
    return {"voice": {**_file_info(stored), "duration": int(duration), "mime_type": "audio/ogg"}}


def video_body(
    files: FileStore, duration: int = 3, width: int = 640, height: int = 360, data: bytes | None = None
) -> dict[str, Any]:
    """Return a video message body; the bytes are a stand-in, not a playable video."""
    stored = files.add(data or bytes(8192 * max(1, duration)), "video", mime_type="video/mp4")
    return {
        "video": {
            **_file_info(stored),
            "width": width,
            "height": height,
            "duration": int(duration),
            "mime_type": "video/mp4",
        }
    }
