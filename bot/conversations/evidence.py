"""Visit photos: store each one as it arrives (provisional watermark), re-stamp them at submit."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from bot.conversations.model import Answers, FormContext, Photo, Reask
from domain.casework.visits import visit_moment
from domain.photos.exif import ExifFacts
from domain.photos.processing import (
    PhotoPolicy,
    PhotoRejected,
    ProcessedPhoto,
    WatermarkInfo,
    process_photo_async,
)
from storage.models import Attachment, Case

PHOTOS = "photos"  # answers key of the PhotosStep
STAMP = "_stamp"  # answers key: the visit time printed on the provisional evidence copies
MAX_MB = 20
# Why a photo was refused → the catalog message that tells the teacher what to do instead.
REJECTION_KEYS = {
    PhotoRejected.TOO_LARGE: "visit.photo_too_large",
    PhotoRejected.NOT_AN_IMAGE: "visit.photo_not_an_image",
    PhotoRejected.UNSUPPORTED_FORMAT: "visit.photo_unsupported_format",
    PhotoRejected.TOO_MANY_PIXELS: "visit.photo_too_many_pixels",
    PhotoRejected.CORRUPT: "visit.photo_corrupt",
}
WATERMARK_DECIMALS = 4  # about 11 m: enough for an inspector, no finer than needed (DOMAIN.md §8)


async def _case(ctx: FormContext, answers: Answers) -> Case:
    case = await ctx.uow.cases.in_scope(ctx.scope, int(answers["case"]))
    if case is None:  # the case left the visitor's scope while the form was open
        raise Reask("visit.case_not_available")
    return case


async def watermark(
    ctx: FormContext, case: Case, at: datetime, location: dict[str, float] | None = None
) -> WatermarkInfo:
    """What the evidence copy says: when, where (village, coordinates if shared), which case, who."""
    student = await ctx.uow.students.get(case.student_id)
    village = (
        await ctx.uow.directory.area(student.home_village_id) if student and student.home_village_id else None
    )
    lat = round(location["lat"], WATERMARK_DECIMALS) if location else None
    lon = round(location["lon"], WATERMARK_DECIMALS) if location else None
    return WatermarkInfo(
        visit_time=at,
        village=village.name if village else "—",
        case_number=case.number,
        visitor_name=ctx.staff.name,
        latitude=lat,
        longitude=lon,
    )


async def _process(
    ctx: FormContext, data: bytes, info: WatermarkInfo, exif: ExifFacts | None = None
) -> ProcessedPhoto:
    """The photo pipeline on a worker thread, so other people's updates keep flowing."""
    processed = await process_photo_async(data, visit=info, policy=PhotoPolicy(tz=ctx.tz), exif=exif)
    media = ctx.services.media
    await media.put(processed.evidence_bytes)
    await media.put(processed.thumbnail_bytes)
    return processed


async def keep_photo(
    ctx: FormContext,
    answers: Answers,
    photo: Photo,
    case_id: int | None,
    info: Callable[[], Awaitable[WatermarkInfo]],
) -> tuple[int, bool]:
    """Checks and stores one photo (original, evidence copy, thumbnail); returns its attachment id and
    whether it is new: the same photo sent twice (as a photo, or again as a file) gives the same id. A bad
    file raises Reask with the reason. Visits and home-teaching sessions both keep their photos here."""
    have = list(await ctx.uow.attachments.by_ids(answers.get(PHOTOS, [])))
    if same := next((a for a in have if a.source_file_ref == photo.file_unique_id), None):
        return same.id, False
    try:
        data = await ctx.fetch_media(photo)
        digest = hashlib.sha256(data).hexdigest()
        if same := next((a for a in have if digest in (a.received_sha256, a.sha256)), None):
            return same.id, False
        processed = await _process(ctx, data, await info())
    except PhotoRejected as exc:
        raise Reask(REJECTION_KEYS.get(exc.reason, "visit.photo_corrupt"), max_mb=MAX_MB) from None
    # The original without location and camera metadata; the hash of what was received is kept.
    await ctx.services.media.put(processed.original_bytes)
    attachment = Attachment(
        case_id=case_id,
        event_id=None,
        source_file_ref=photo.file_unique_id,
        uploaded_by_id=ctx.staff.id,
        created_at=ctx.now,
        **processed.attachment_fields(),
    )
    ctx.uow.session.add(attachment)
    await ctx.uow.flush()
    return attachment.id, True


async def store_photo(ctx: FormContext, answers: Answers, photo: Photo) -> int:
    """A visit photo, stamped provisionally with the visit day (re-stamped at submit)."""
    case = await _case(ctx, answers)
    stamp = answers.get(STAMP) or {}
    if stamp.get("day") != answers["visited_on"]:
        at = visit_moment(date.fromisoformat(answers["visited_on"]), ctx.now, ctx.tz)
        stamp = {"day": answers["visited_on"], "at": at.isoformat()}
    attachment_id, new = await keep_photo(
        ctx, answers, photo, case.id, lambda: watermark(ctx, case, datetime.fromisoformat(stamp["at"]))
    )
    if new:  # the stamp describes the copies made; a repeat made none
        answers[STAMP] = stamp
    return attachment_id


Restamped = dict[int, ProcessedPhoto]


async def restamp_photos(
    ctx: FormContext, answers: Answers, case: Case, attachment_ids: list[int]
) -> Restamped:
    """New evidence copies from the originals when the coordinates or the visit date are known only now.
    Runs before the submit writes anything, so a slow photo never holds a database write lock."""
    location = answers.get("location")
    stamp = answers.get(STAMP) or {}
    same_day = stamp.get("day") == answers["visited_on"]
    if not attachment_ids or (location is None and same_day):
        return {}
    at = (
        datetime.fromisoformat(stamp["at"])
        if same_day
        else visit_moment(date.fromisoformat(answers["visited_on"]), ctx.now, ctx.tz)
    )
    info = await watermark(ctx, case, at, location)
    # The stored originals carry no EXIF any more: what was read on receipt is passed back in.
    return {
        a.id: await _process(
            ctx,
            await ctx.services.media.get(a.sha256),
            info,
            ExifFacts(a.exif_taken_at, a.exif_latitude, a.exif_longitude),
        )
        for a in await ctx.uow.attachments.by_ids(attachment_ids)
    }


async def apply_restamped(ctx: FormContext, restamped: Restamped) -> None:
    """Points the attachments at their new evidence copies; the originals never change."""
    for attachment in await ctx.uow.attachments.by_ids(restamped):
        processed = restamped[attachment.id]
        attachment.evidence_sha256 = processed.evidence_sha256
        attachment.thumbnail_sha256 = processed.thumbnail_sha256
        attachment.exif_time_mismatch = processed.exif_time_mismatch
    await ctx.uow.flush()
