"""适龄儿童台账 on the dashboard: its download on the exports page and its figures on the overview."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from domain.school_age import ledger as school_age_ledger
from domain.school_age.ledger import LedgerFigures, NoCrosscheckSaved
from web.deps import CurrentViewer, PageError, Viewer


async def overview_figures(viewer: Viewer) -> LedgerFigures | None:
    """The ledger's figures for the viewer's area; None when no cross-check of it is saved yet."""
    try:
        return await school_age_ledger.ledger_figures(
            viewer.uow, viewer.scope, now=viewer.now, tz=viewer.services.tz
        )
    except NoCrosscheckSaved:
        return None


def add_school_age_routes(router: APIRouter, file_response: Any, page: Any) -> None:
    """GET /exports/school-age.{xlsx|csv} (before the ledgers' catch-all)."""

    @router.get("/exports/school-age.{fmt}")
    async def school_age(request: Request, fmt: str, viewer: CurrentViewer) -> Response:
        if fmt not in school_age_ledger.FORMATS:
            raise PageError(404)
        today: date = viewer.now.astimezone(viewer.services.tz).date()

        async def write(path: Path) -> int:
            return await school_age_ledger.export_school_age_ledger(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                fmt,
                path,
                now=viewer.now,
                tz=viewer.services.tz,
                pii=viewer.identity.can_export_pii,
            )

        try:
            sent: Response = await file_response(
                request, viewer, fmt, lambda _rows: school_age_ledger.file_name(fmt, today), write
            )
            return sent
        except NoCrosscheckSaved:
            await viewer.discard()
            shown: Response = await page(
                request, viewer, message=viewer.t("school_age.no_run"), status_code=404
            )
            return shown
