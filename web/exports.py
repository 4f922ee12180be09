"""Ledger, monthly-report and quarterly, term and year review downloads: written to a temporary file row by row, then
streamed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from domain.casework.casefile import filter_in_scope
from domain.errors import NotInScope
from domain.reports import ledgers, monthly_report
from ops.metrics import EXPORT_SECONDS
from storage.reporting import ReportingRepository
from web.area_reviews import add_area_review_routes, review_context
from web.deps import CurrentViewer, PageError, Viewer, existing_id, services_of
from web.export_limit import RETRY_AFTER_SECONDS, ExportBusy, ExportLimiter
from web.filters import parse_filter
from web.quarterly import add_report_routes, report_context
from web.render import SECURITY_HEADERS, render
from web.school_age import add_school_age_routes

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def export_limiter(request: Request) -> ExportLimiter:
    """The web process's limiter, made on first use from WEB_EXPORT_CONCURRENCY."""
    state = request.app.state
    limiter: ExportLimiter | None = getattr(state, "export_limiter", None)
    if limiter is None:
        limiter = state.export_limiter = ExportLimiter(services_of(request).settings.web_export_concurrency)
    return limiter


def _busy(request: Request, viewer: Viewer, exc: ExportBusy) -> Response:
    message = "web.error.export_running" if exc.mine else "web.error.export_busy"
    response = render(
        request,
        "error.html",
        language=viewer.language,
        viewer=viewer,
        status_code=429,
        code=429,
        message=message,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def file_response(
    request: Request,
    viewer: Viewer,
    suffix: str,
    name: Callable[[Any], str],
    write: Callable[[Path], Awaitable[Any]],
) -> Response:
    """Runs `write` into a temporary file, commits the audit entry and streams the file, then deletes it.
    Writing holds one of the process's export slots (one per person); without a free one the answer is
    429. Streaming the finished file holds none."""
    fd, raw = tempfile.mkstemp(prefix="nol-export-", suffix=f".{suffix}")
    os.close(fd)
    try:
        async with export_limiter(request).slot(viewer.identity.staff.id):
            with EXPORT_SECONDS.labels(suffix).time():  # the writing only, not the wait for a slot
                result = await write(Path(raw))
        await viewer.uow.commit()
    except ExportBusy as exc:
        _remove(raw)
        return _busy(request, viewer, exc)
    except BaseException:
        _remove(raw)
        raise
    headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "Content-Security-Policy"}
    return FileResponse(
        raw,
        media_type=MEDIA_TYPES[suffix],
        filename=name(result),
        headers=headers,
        background=BackgroundTask(_remove, raw),
    )


def _month(value: str | None, today: date) -> date:
    if not value:
        return today.replace(day=1)
    try:
        year, month = (int(p) for p in value.split("-", 1))
        if not 2000 <= year <= 2100:
            raise ValueError(value)
        return date(year, month, 1)
    except ValueError:
        raise PageError(400) from None


def exports_router() -> APIRouter:
    """GET /exports (the page), /exports/monthly.xlsx, /exports/school-age.{xlsx|csv} and
    /exports/{suspected|dropout|persuasion}.{xlsx|csv}."""
    router = APIRouter(include_in_schema=False)

    async def page(
        request: Request, viewer: Viewer, *, message: str | None = None, status_code: int = 200
    ) -> Response:
        schools = await ReportingRepository(viewer.uow.session).schools(viewer.scope)
        if message is None and request.query_params.get("done") == "report_confirmed":
            message = viewer.t("web.done.report_confirmed")
        return render(
            request,
            "exports.html",
            language=viewer.language,
            viewer=viewer,
            nav="exports",
            kinds=ledgers.KINDS,
            schools=schools,
            # 一月一报告 covers a calendar month once it has ended: the month just ended is the default.
            this_month=f"{viewer.now.astimezone(viewer.services.tz).date().replace(day=1) - timedelta(days=1):%Y-%m}",
            message=message,
            error=status_code >= 400,
            status_code=status_code,
            **await report_context(viewer),
            **await review_context(viewer),
        )

    @router.get("/exports")
    async def exports_page(request: Request, viewer: CurrentViewer) -> Response:
        return await page(request, viewer)

    add_report_routes(router, file_response, page)
    add_school_age_routes(router, file_response, page)
    add_area_review_routes(router, file_response)

    @router.get("/exports/monthly.xlsx")
    async def monthly(
        request: Request, viewer: CurrentViewer, school: int, month: str | None = None
    ) -> Response:
        tz = viewer.services.tz
        first = _month(month, viewer.now.astimezone(tz).date())

        async def write(path: Path) -> monthly_report.MonthlyNumbers:
            return await monthly_report.export_monthly_report(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                existing_id(school),
                first,
                path,
                now=viewer.now,
                tz=tz,
                pii=viewer.identity.can_export_pii,
            )

        try:
            return await file_response(request, viewer, "xlsx", monthly_report.file_name, write)
        except NotInScope:
            await viewer.deny()

    @router.get("/exports/{kind}.{fmt}")
    async def ledger(request: Request, kind: str, fmt: str, viewer: CurrentViewer) -> Response:
        if kind not in ledgers.KINDS or fmt not in ledgers.FORMATS:
            raise PageError(404)
        flt = parse_filter(request.query_params)
        if not await filter_in_scope(viewer.uow, viewer.scope, viewer.actor, flt, now=viewer.now):
            await viewer.deny()
        today = viewer.now.astimezone(viewer.services.tz).date()

        async def write(path: Path) -> int:
            return await ledgers.export_ledger(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                kind,
                fmt,
                path,
                flt,
                now=viewer.now,
                tz=viewer.services.tz,
                pii=viewer.identity.can_export_pii,
            )

        return await file_response(
            request, viewer, fmt, lambda _rows: ledgers.file_name(kind, fmt, today), write
        )

    return router
