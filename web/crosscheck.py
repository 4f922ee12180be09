"""比对 / Cross-check on the dashboard: upload the county's lists (the engine runs in a thread, one run at
a time per process), review the latest run (counts, filters, table, a sample per school, what changed),
confirm a bucket in bulk, set a child aside, and download the run's workbook (PII-authorised viewers).
County officers and administrators act; township officers read their township's children only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from domain.audit import audit
from domain.crosscheck.buckets import BUCKETS
from domain.crosscheck.confirm import CONFIRMABLE, confirm, place_child, set_aside
from domain.crosscheck.proposal import write_proposal
from domain.crosscheck.saved import changes_of, proposal_of
from domain.errors import InvalidInput
from domain.roster.format import RosterUnreadable
from storage import crosscheck_runs as store
from storage.crosscheck_runs import ChildFilter
from storage.models import CrosscheckChild, CrosscheckRun
from web.crosscheck_upload import LISTS, MAX_FILE, UPLOAD_PATH, crosscheck_limiter, run_upload
from web.crosscheck_view import (
    Access,
    access_of,
    child_view,
    filter_fields,
    link,
    parse_review,
    townships,
    villages,
)
from web.deps import CurrentViewer, PageError, Viewer, csrf_ok, existing_id
from web.export_limit import RETRY_AFTER_SECONDS, ExportBusy
from web.exports import file_response
from web.filters import page_number
from web.render import SECURITY_HEADERS, render

PER_PAGE = 50
SAMPLE_PER_SCHOOL, SAMPLE_SCHOOLS = 3, 30
GONE_SHOWN = 200


def _redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


# The counts a confirmation redirects with (one letter each, in the query) and their message parameters.
_COUNTS = {"o": "opened", "e": "evidence", "t": "taken", "n": "no_pupil", "f": "refused", "v": "no_village"}
_COUNTS_R = {**_COUNTS, "r": "remaining"}
_DONE = {
    "saved": "web.crosscheck.saved",
    "placed": "web.crosscheck.place_done",
    "set_aside": "web.crosscheck.set_aside_done",
    "confirmed": "web.crosscheck.confirmed",
    "confirmed_out_of_school": "web.crosscheck.confirmed_out_of_school",
}


def _done_message(viewer: Viewer, params: Any) -> str | None:
    key = _DONE.get(str(params.get("done")))
    if key is None:
        return None
    numbers = {name: 0 for name in _COUNTS_R.values()}
    numbers.update(
        {
            _COUNTS_R[k]: int(v)
            for k, v in params.items()
            if k in _COUNTS_R and str(v).isdigit() and len(v) < 10
        }
    )
    return viewer.t(key, **numbers)


async def review_page(
    request: Request,
    viewer: Viewer,
    access: Access,
    params: Any,
    *,
    message: str | None = None,
    error: bool = False,
    status_code: int = 200,
) -> Response:
    """The latest run of the viewer's county, filtered; audited as a view (ids and codes only)."""
    session = viewer.uow.session
    run = await store.latest_run(session, access.county.id) if access.county else None
    flt = parse_review(params, access)
    fields = filter_fields(params)
    pii = viewer.identity.can_export_pii
    context: dict[str, Any] = {"run": run}
    if run is not None:
        counted = await store.counts(
            session, run.id, ChildFilter(decided=flt.decided, school_id=flt.school_id, regions=flt.regions)
        )
        gone_by_bucket = await store.gone_counts(
            session, run, ChildFilter(school_id=flt.school_id, regions=flt.regions)
        )
        number = page_number(request.query_params)
        rows: list[CrosscheckChild] = []
        total = 0
        if flt.change != "gone":
            rows, total = await store.page(
                session, run.id, flt, offset=(number - 1) * PER_PAGE, limit=PER_PAGE
            )
        gone = (
            await store.gone(session, run, flt, offset=0, limit=GONE_SHOWN)
            if flt.change in ("changes", "gone")
            else []
        )
        sample = (
            await store.samples(
                session, run.id, flt, per_school=SAMPLE_PER_SCHOOL, schools_shown=SAMPLE_SCHOOLS
            )
            if flt.bucket
            else []
        )
        context.update(
            counts=[
                {
                    "bucket": b,
                    "total": sum(n for (bucket, _c), n in counted.items() if bucket == b),
                    "new": counted.get((b, "new"), 0),
                    "changed": counted.get((b, "changed"), 0),
                    "gone": gone_by_bucket.get(b, 0),
                }
                for b in BUCKETS
            ],
            rows=[child_view(viewer, access, c, pii=pii) for c in rows],
            total=total,
            page=number,
            pages=max(1, -(-total // PER_PAGE)),
            gone=[child_view(viewer, access, c, pii=pii) for c in gone],
            sample=[child_view(viewer, access, c, pii=pii) for c in sample],
            confirmable=access.can_act and flt.bucket in CONFIRMABLE,
            villages=villages(access) if access.can_act and flt.bucket == "out_of_school" else [],
            undecided=await store.undecided(session, run.id, flt) if flt.bucket else 0,
        )
        await viewer.record_view(
            "crosscheck_run",
            run_id=run.id,
            filter=fields,
            page=number,
            rows=len(rows) + len(gone) + len(sample),
        )
    schools = [
        s
        for s in await store.schools(session)
        if access.county and s.area_id in access.tree.subtree(access.county.id)
    ]
    if access.own is not None:
        schools = [s for s in schools if s.id in access.own.school_ids]
    return render(
        request,
        "crosscheck.html",
        language=viewer.language,
        viewer=viewer,
        nav="crosscheck",
        access=access,
        flt=flt,
        fields=fields,
        link=lambda **changes: link(fields, **changes),
        buckets=BUCKETS,
        townships=townships(access),
        schools=schools,
        pii=viewer.identity.can_export_pii,
        message=message or _done_message(viewer, request.query_params),
        error=error,
        status_code=status_code,
        max_mib=MAX_FILE >> 20,
        **context,
    )


async def _refused(
    request: Request, viewer: Viewer, form: FormData | dict[str, str], text: str, status_code: int = 422
) -> Response:
    """Forgets what the request changed and shows the page again with the reason (rows read before the
    rollback are expired: the viewer's access is worked out again)."""
    await viewer.discard()
    access = await _acting(viewer, form.get("county"))
    return await review_page(request, viewer, access, form, message=text, error=True, status_code=status_code)


def _form_id(form: FormData, name: str) -> int:
    value = form.get(name)
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else 0


async def _acting(viewer: Viewer, county: object) -> Access:
    access = await access_of(viewer, int(county) if isinstance(county, str) and county.isdigit() else None)
    if not access.can_act or access.county is None:
        raise PageError(403)
    return access


async def _latest(viewer: Viewer, access: Access, run_id: int) -> CrosscheckRun:
    """The run named by a form, which must be the county's latest (a newer one changes what was seen)."""
    assert access.county is not None
    latest = await store.latest_run(viewer.uow.session, access.county.id)
    if latest is None or latest.id != run_id:
        raise InvalidInput("web.crosscheck.error.not_latest")
    return latest


def crosscheck_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/crosscheck")
    async def review(request: Request, viewer: CurrentViewer) -> Response:
        county = request.query_params.get("county")
        access = await access_of(
            viewer, int(county) if county and county.isdigit() and len(county) < 10 else None
        )
        return await review_page(request, viewer, access, request.query_params)

    @router.post(UPLOAD_PATH)
    async def upload(request: Request, viewer: CurrentViewer) -> Response:
        # The role is checked before the (large) body is read; the CSRF token after.
        await _acting(viewer, None)
        async with request.form(max_files=len(LISTS), max_fields=20) as form:
            if not csrf_ok(viewer, form.get("csrf_token")):
                raise PageError(403)
            access = await _acting(viewer, form.get("county"))
            county = {"county": str(access.county.id)} if access.county else {}
            try:
                async with crosscheck_limiter(request).slot("crosscheck"):
                    run_id = await run_upload(viewer, access, form)
            except ExportBusy:
                response = await _refused(request, viewer, county, viewer.t("web.crosscheck.busy"), 429)
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response
            except InvalidInput as exc:
                return await _refused(request, viewer, county, viewer.t(exc.code, **exc.params))
            except RosterUnreadable as exc:
                text = viewer.t("web.crosscheck.error.unreadable", error=str(exc))
                return await _refused(request, viewer, county, text)
        await viewer.uow.commit()
        return _redirect(
            link({"county": str(access.county.id)} if access.county else {}, done="saved", run=run_id)
        )

    @router.post("/crosscheck/runs/{run_id}/confirm")
    async def confirm_selection(request: Request, run_id: int, viewer: CurrentViewer) -> Response:
        form = await request.form()
        if not csrf_ok(viewer, form.get("csrf_token")):
            raise PageError(403)
        access = await _acting(viewer, form.get("county"))
        fields = filter_fields(form)
        try:
            run = await _latest(viewer, access, existing_id(run_id))
            flt = parse_review(form, access)
            services = viewer.services
            done = await confirm(
                viewer.uow,
                viewer.scope,
                viewer.actor,
                run,
                flt,
                now=viewer.now,
                policy=services.policy,
                tz=services.tz,
            )
        except InvalidInput as exc:
            return await _refused(request, viewer, form, viewer.t(exc.code, **exc.params))
        await viewer.uow.commit()
        counts = {letter: getattr(done, name) for letter, name in _COUNTS_R.items()}
        kind = "confirmed_out_of_school" if flt.bucket == "out_of_school" else "confirmed"
        return _redirect(link(fields, done=kind, **counts))

    @router.post("/crosscheck/children/{child_id}/village")
    async def place_child_in_village(request: Request, child_id: int, viewer: CurrentViewer) -> Response:
        form = await request.form()
        if not csrf_ok(viewer, form.get("csrf_token")):
            raise PageError(403)
        access = await _acting(viewer, form.get("county"))
        fields = filter_fields(form)
        try:
            run = await _latest(viewer, access, _form_id(form, "run"))
            village = _form_id(form, "village")
            await place_child(
                viewer.uow, viewer.scope, viewer.actor, run, existing_id(child_id), village, now=viewer.now
            )
        except InvalidInput as exc:
            return await _refused(request, viewer, form, viewer.t(exc.code, **exc.params))
        await viewer.uow.commit()
        return _redirect(link(fields, done="placed"))

    @router.post("/crosscheck/children/{child_id}/set-aside")
    async def set_child_aside(request: Request, child_id: int, viewer: CurrentViewer) -> Response:
        form = await request.form()
        if not csrf_ok(viewer, form.get("csrf_token")):
            raise PageError(403)
        access = await _acting(viewer, form.get("county"))
        fields = filter_fields(form)
        note = form.get("note")
        try:
            run = await _latest(viewer, access, _form_id(form, "run"))
            text = note if isinstance(note, str) else ""
            await set_aside(viewer.uow, viewer.actor, run, existing_id(child_id), text, now=viewer.now)
        except InvalidInput as exc:
            return await _refused(request, viewer, form, viewer.t(exc.code, **exc.params))
        await viewer.uow.commit()
        return _redirect(link(fields, done="set_aside"))

    @router.get("/crosscheck/runs/{run_id}/proposal.xlsx")
    async def workbook(request: Request, run_id: int, viewer: CurrentViewer) -> Response:
        county = request.query_params.get("county")
        access = await _acting(viewer, county)
        run = await store.run(viewer.uow.session, existing_id(run_id))
        if (
            not viewer.identity.can_export_pii
            or run is None
            or access.county is None
            or run.area_id != access.county.id
        ):
            raise PageError(403 if run is not None else 404)

        async def write(path: Path) -> int:
            return await _write_workbook(viewer, run, path)

        day = run.created_at.astimezone(viewer.services.tz).date()
        return await file_response(
            request, viewer, "xlsx", lambda _n: f"crosscheck-{run.id}-{day}.xlsx", write
        )

    return router


async def _write_workbook(viewer: Viewer, run: CrosscheckRun, path: Path) -> int:
    """The run's proposal workbook, as the CLI writes it (names and ID numbers in full): audited."""
    session = viewer.uow.session
    children = await store.all_children(session, run.id)
    gone = await store.gone(session, run, ChildFilter(), offset=0, limit=10**7) if run.previous_id else []
    before = (
        {k: b for k, (b, _r) in (await store.verdicts(session, run.previous_id)).items()}
        if run.previous_id
        else {}
    )
    proposal = proposal_of(children, run.cutoff)
    changes = (
        changes_of(proposal, {c["key"]: c["change"] for c in children}, before, [_mapping(g) for g in gone])
        if run.previous_id
        else None
    )
    await asyncio.to_thread(write_proposal, proposal, path, language=viewer.language, changes=changes)
    audit(viewer.uow, viewer.actor, viewer.now, "export", "crosscheck_run", run.id, rows=len(children))
    return len(children)


def _mapping(child: CrosscheckChild) -> dict[str, Any]:
    return {"key": child.key, "bucket": child.bucket, "name": child.name, "national_id": child.national_id}
