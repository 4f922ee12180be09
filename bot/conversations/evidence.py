"""Photo steps' side of the evidence use cases: which stamp a photo gets, and why a file was refused.

Storing and re-stamping are `domain.photos.evidence`; here the form's answers pick the visit moment and a
`PhotoRejected` becomes the catalog message that tells the teacher what to do instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime

from bot.conversations.model import Answers, FormContext, Photo, Reask
from domain.casework.visits import visit_moment
from domain.photos import evidence
from domain.photos.evidence import ReceivedPhoto, Restamped
from domain.photos.processing import PhotoPolicy, PhotoRejected, WatermarkInfo
from storage.models import Case

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


def photo_policy(ctx: FormContext) -> PhotoPolicy:
    return PhotoPolicy(tz=ctx.tz)


async def _case(ctx: FormContext, answers: Answers) -> Case:
    case = await ctx.uow.cases.in_scope(ctx.scope, int(answers["case"]))
    if case is None:  # the case left the visitor's scope while the form was open
        raise Reask("visit.case_not_available")
    return case


async def keep_photo(
    ctx: FormContext,
    answers: Answers,
    photo: Photo,
    case_id: int | None,
    info: Callable[[], Awaitable[WatermarkInfo]],
) -> tuple[int, bool]:
    """Keeps one photo of the step (see `domain.photos.evidence.keep_photo`): its attachment id and whether
    it is new. A bad file raises Reask with the reason."""
    fetch_media = ctx.fetch_media
    assert fetch_media is not None, "a channel that takes photos supplies fetch_media"

    async def fetch() -> bytes:
        return await fetch_media(photo)

    try:
        kept = await evidence.keep_photo(
            ctx.uow,
            ctx.services.media,
            photo_policy(ctx),
            ReceivedPhoto(photo.file_unique_id, fetch),
            kept=answers.get(PHOTOS, []),
            case_id=case_id,
            staff_id=ctx.staff.id,
            now=ctx.now,
            info=info,
        )
    except PhotoRejected as exc:
        raise Reask(REJECTION_KEYS.get(exc.reason, "visit.photo_corrupt"), max_mb=MAX_MB) from None
    return kept.attachment_id, kept.new


async def store_photo(ctx: FormContext, answers: Answers, photo: Photo) -> int:
    """A visit photo, stamped provisionally with the visit day (re-stamped at submit)."""
    case = await _case(ctx, answers)
    stamp = answers.get(STAMP) or {}
    if stamp.get("day") != answers["visited_on"]:
        at = visit_moment(date.fromisoformat(answers["visited_on"]), ctx.now, ctx.tz)
        stamp = {"day": answers["visited_on"], "at": at.isoformat()}

    async def info() -> WatermarkInfo:
        return await evidence.watermark(ctx.uow, case, datetime.fromisoformat(stamp["at"]), ctx.staff.name)

    attachment_id, new = await keep_photo(ctx, answers, photo, case.id, info)
    if new:  # the stamp describes the copies made; a repeat made none
        answers[STAMP] = stamp
    return attachment_id


async def restamp_photos(
    ctx: FormContext, answers: Answers, case: Case, attachment_ids: list[int]
) -> Restamped:
    """New evidence copies when the coordinates or the visit date are known only now (none otherwise)."""
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
    info = await evidence.watermark(ctx.uow, case, at, ctx.staff.name, location)
    return await evidence.restamp_photos(ctx.uow, ctx.services.media, photo_policy(ctx), attachment_ids, info)
