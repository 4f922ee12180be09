"""Photo evidence as use cases: keep a received photo once (original, evidence copy, thumbnail, attachment
row), and re-stamp the evidence copies when the visit's place or day is known only at submit."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.photos.exif import ExifFacts
from domain.photos.processing import PhotoPolicy, ProcessedPhoto, WatermarkInfo, process_photo_async
from storage.media import MediaStore
from storage.models import Attachment, Case
from storage.uow import UnitOfWork

WATERMARK_DECIMALS = 4  # about 11 m: enough for an inspector, no finer than needed (DOMAIN.md §8)


@dataclass(frozen=True)
class ReceivedPhoto:
    """A photo as a channel hands it over: its stable id there, and how to download it."""

    unique_id: str  # the same picture sent again (as a photo, or as a file) may keep it
    fetch: Callable[[], Awaitable[bytes]]  # raises PhotoRejected for a file too large to fetch


@dataclass(frozen=True)
class KeptPhoto:
    attachment_id: int
    new: bool  # False: the same photo was kept before, nothing was stored now


Restamped = dict[int, ProcessedPhoto]


async def watermark(
    uow: UnitOfWork, case: Case, at: datetime, visitor_name: str, location: dict[str, float] | None = None
) -> WatermarkInfo:
    """What the evidence copy says: when, where (village, coordinates if shared), which case, who."""
    student = await uow.students.get(case.student_id)
    village = (
        await uow.directory.area(student.home_village_id) if student and student.home_village_id else None
    )
    lat = round(location["lat"], WATERMARK_DECIMALS) if location else None
    lon = round(location["lon"], WATERMARK_DECIMALS) if location else None
    return WatermarkInfo(
        visit_time=at,
        village=village.name if village else "—",
        case_number=case.number,
        visitor_name=visitor_name,
        latitude=lat,
        longitude=lon,
    )


async def _process(
    media: MediaStore, policy: PhotoPolicy, data: bytes, info: WatermarkInfo, exif: ExifFacts | None = None
) -> ProcessedPhoto:
    """The photo pipeline on a worker thread, so other people's updates keep flowing."""
    processed = await process_photo_async(data, visit=info, policy=policy, exif=exif)
    await media.put(processed.evidence_bytes)
    await media.put(processed.thumbnail_bytes)
    return processed


async def keep_photo(
    uow: UnitOfWork,
    media: MediaStore,
    policy: PhotoPolicy,
    photo: ReceivedPhoto,
    *,
    kept: Iterable[int],
    case_id: int | None,
    staff_id: int,
    now: datetime,
    info: Callable[[], Awaitable[WatermarkInfo]],
) -> KeptPhoto:
    """Checks and stores one photo (original, evidence copy, thumbnail) as an attachment. The same photo
    sent twice (as a photo, or again as a file) gives one of the `kept` attachments back; a bad file raises
    PhotoRejected. Visits, returns and home-teaching sessions all keep their photos here."""
    have = list(await uow.attachments.by_ids(kept))
    if same := next((a for a in have if a.source_file_ref == photo.unique_id), None):
        return KeptPhoto(same.id, new=False)
    data = await photo.fetch()
    digest = hashlib.sha256(data).hexdigest()
    if same := next((a for a in have if digest in (a.received_sha256, a.sha256)), None):
        return KeptPhoto(same.id, new=False)
    processed = await _process(media, policy, data, await info())
    # The original without location and camera metadata; the hash of what was received is kept.
    await media.put(processed.original_bytes)
    attachment = Attachment(
        case_id=case_id,
        event_id=None,
        source_file_ref=photo.unique_id,
        uploaded_by_id=staff_id,
        created_at=now,
        **processed.attachment_fields(),
    )
    uow.session.add(attachment)
    await uow.flush()
    return KeptPhoto(attachment.id, new=True)


async def restamp_photos(
    uow: UnitOfWork,
    media: MediaStore,
    policy: PhotoPolicy,
    attachment_ids: Iterable[int],
    info: WatermarkInfo,
) -> Restamped:
    """New evidence copies from the stored originals, not yet pointed at (see `apply_restamped`). Runs
    before the submit writes anything, so a slow photo never holds a database write lock."""
    # The stored originals carry no EXIF any more: what was read on receipt is passed back in.
    return {
        a.id: await _process(
            media,
            policy,
            await media.get(a.sha256),
            info,
            ExifFacts(a.exif_taken_at, a.exif_latitude, a.exif_longitude),
        )
        for a in await uow.attachments.by_ids(attachment_ids)
    }


async def apply_restamped(uow: UnitOfWork, restamped: Restamped) -> None:
    """Points the attachments at their new evidence copies; the originals never change."""
    for attachment in await uow.attachments.by_ids(restamped):
        processed = restamped[attachment.id]
        attachment.evidence_sha256 = processed.evidence_sha256
        attachment.thumbnail_sha256 = processed.thumbnail_sha256
        attachment.exif_time_mismatch = processed.exif_time_mismatch
    await uow.flush()
