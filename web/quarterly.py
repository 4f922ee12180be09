"""The exports page's 一月一报告 confirmation (principals) and 一季度一复核 download (county officers, and
the city and province officers above them)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from domain.errors import InvalidInput, NotInScope
from domain.people.roles import Role
from domain.reports import quarterly_delivery
from domain.reports.confirmations import confirm_monthly_report, last_month
from domain.reports.quarterly_review import Period, QuarterlyReview
from storage.report_confirmations import ConfirmationQueries
from web.deps import CsrfViewer, CurrentViewer, PageError, Viewer
from web.render import SECURITY_HEADERS

QUARTERS_SHOWN = 8  # the quarters offered on the page, newest first


def _quarter(value: str | None, today: date) -> Period:
    """2026Q3 (or 2026-Q3); by default the last quarter that has ended."""
    if not value:
        return Period.quarter_before(today)
    year, _, number = value.upper().replace("-", "").partition("Q")
    if not (year.isdigit() and number in ("1", "2", "3", "4") and 2000 <= int(year) <= 2100):
        raise PageError(400)
    return Period(date(int(year), int(number) * 3 - 2, 1), 3)


async def report_context(viewer: Viewer) -> dict[str, Any]:
    """What the exports page shows of confirmation and the quarterly review, per role."""
    today = viewer.now.astimezone(viewer.services.tz).date()
    staff = viewer.identity.staff
    context: dict[str, Any] = {"confirm_month": None, "quarters": []}
    if staff.role == Role.PRINCIPAL and staff.school_id is not None:
        month = last_month(today)
        row = await ConfirmationQueries(viewer.uow.session).get(staff.school_id, month)
        by = await viewer.uow.directory.staff(row.confirmed_by_id) if row else None
        context.update(confirm_month=f"{month:%Y-%m}", confirmation=row, confirmed_by=by.name if by else "")
    if staff.role in quarterly_delivery.REVIEW_ROLES:
        quarter, quarters = Period.quarter_of(today), []
        for _ in range(QUARTERS_SHOWN):
            quarters.append(quarter.label)
            quarter = Period.quarter_before(quarter.first)
        context["quarters"] = quarters
        context["last_quarter"] = Period.quarter_before(today).label
    return context


def add_report_routes(router: APIRouter, file_response: Any, page: Any) -> None:
    """POST /exports/monthly/confirm and GET /exports/quarterly.xlsx (before the ledgers' catch-all)."""

    @router.post("/exports/monthly/confirm")
    async def confirm(request: Request, viewer: CsrfViewer) -> Response:
        form = await request.form()
        staff = viewer.identity.staff
        raw = str(form.get("month") or "")[:7]
        try:
            month = date(int(raw[:4]), int(raw[5:7]), 1)
        except ValueError:
            raise PageError(400) from None
        try:
            await confirm_monthly_report(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                staff,
                staff.school_id or 0,
                month,
                now=viewer.now,
                tz=viewer.services.tz,
            )
        except NotInScope:
            await viewer.deny(403)
        except InvalidInput as exc:
            await viewer.discard()
            text = viewer.t(f"report_confirm.{exc.code.removeprefix('report_month_')}", **exc.params)
            result: Response = await page(request, viewer, message=text, status_code=422)
            return result
        await viewer.uow.commit()
        response = RedirectResponse("/exports?done=report_confirmed#monthly-form", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    @router.get("/exports/quarterly.xlsx")
    async def quarterly(request: Request, viewer: CurrentViewer, quarter: str | None = None) -> Response:
        period = _quarter(quarter, viewer.now.astimezone(viewer.services.tz).date())

        async def write(path: Path) -> QuarterlyReview:
            return await quarterly_delivery.export_quarterly_review(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                viewer.identity.staff,
                period,
                path,
                now=viewer.now,
                tz=viewer.services.tz,
            )

        try:
            sent: Response = await file_response(request, viewer, "xlsx", quarterly_delivery.file_name, write)
            return sent
        except NotInScope:
            await viewer.deny(403)
