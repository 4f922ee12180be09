"""Downloads a photo through getFile, refusing files over the Bot API's 20 MB limit before fetching."""

from __future__ import annotations

from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.conversations.model import Photo
from domain.photos.processing import MAX_DOWNLOAD_BYTES, PhotoRejected


def telegram_fetcher(bot: ExtBot):  # type: ignore[no-untyped-def, type-arg]
    """An async (Photo) -> bytes for the conversation layer, bound to this bot."""

    async def fetch(photo: Photo) -> bytes:
        if photo.file_size is not None and photo.file_size > MAX_DOWNLOAD_BYTES:
            raise PhotoRejected("too_large")
        try:
            file = await bot.get_file(photo.file_id)
        except BadRequest as exc:  # Telegram says "file is too big" for files over 20 MB
            if "too big" in str(exc).lower():
                raise PhotoRejected("too_large") from None
            raise
        if file.file_size is not None and file.file_size > MAX_DOWNLOAD_BYTES:
            raise PhotoRejected("too_large")
        data = bytes(await file.download_as_bytearray())
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise PhotoRejected("too_large")
        return data

    return fetch
