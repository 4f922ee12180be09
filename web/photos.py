"""Case photos for an authorised session: the thumbnail or the watermarked evidence copy, never the original."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from domain.casework.casefile import attachment_in_scope
from domain.errors import NotInScope
from storage.media import InvalidMediaKey, LocalMediaStore, MediaCorrupted, MediaNotFound
from web.deps import CurrentViewer, PageError, existing_id

# The original upload keeps its EXIF data (time, often GPS, DOMAIN.md §8) and is not served at all;
# the derived copies are re-encoded JPEGs without metadata.
log = logging.getLogger(__name__)
VARIANTS = {"thumb": "thumbnail_sha256", "evidence": "evidence_sha256"}


def photos_router() -> APIRouter:
    """GET /cases/{case_id}/photos/{attachment_id}/{thumb|evidence}."""
    router = APIRouter(include_in_schema=False)

    @router.get("/cases/{case_id}/photos/{attachment_id}/{variant}")
    async def photo(
        case_id: int, attachment_id: int, variant: Literal["thumb", "evidence"], viewer: CurrentViewer
    ) -> Response:
        try:
            attachment = await attachment_in_scope(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                existing_id(case_id),
                existing_id(attachment_id),
                now=viewer.now,
                record_view=variant == "evidence",
            )
        except NotInScope:
            await viewer.deny()
        await viewer.uow.commit()
        key = getattr(attachment, VARIANTS[variant])
        if not key:
            raise PageError(404)
        store = LocalMediaStore(viewer.services.settings.media_dir)
        try:
            data = await store.get(key)
        except (MediaNotFound, InvalidMediaKey, MediaCorrupted) as exc:
            log.warning(
                "photo %s of case %s cannot be served: %s", attachment_id, case_id, type(exc).__name__
            )
            raise PageError(404) from None
        return Response(
            data,
            media_type="image/jpeg",
            headers={
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": f'inline; filename="case-{case_id}-photo-{attachment_id}-{variant}.jpg"',
            },
        )

    return router
