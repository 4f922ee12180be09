"""The cross-check page's upload: the four lists checked (which, what kind, how large), copied to disk
and read in a worker thread, and the engine run there too; one run at a time per web process."""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import date
from pathlib import Path

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from domain.crosscheck.buckets import AgeRule
from domain.crosscheck.files import InputFile, read_input
from domain.crosscheck.runs import propose, roster_of, save_run, sources_of
from domain.errors import InvalidInput
from web.crosscheck_view import Access
from web.deps import Viewer
from web.export_limit import ExportLimiter

UPLOAD_PATH = "/crosscheck/runs"
LISTS = ("population", "registry", "poverty", "disabled")
REQUIRED = ("population", "registry")
MAX_FILE = 64 << 20  # per list: a county's 150 000-row household list is ~15 MB as .xlsx
UPLOAD_BODY = len(LISTS) * MAX_FILE + (1 << 20)  # the nul guard's cap for the upload's whole body
SUFFIXES = (".xlsx", ".csv")
_UNSAFE = re.compile(r"[^\w.\- ]")


def crosscheck_limiter(request: Request) -> ExportLimiter:
    """One cross-check at a time per process (matching 150 000 children takes a core and ~1 GB)."""
    state = request.app.state
    limiter: ExportLimiter | None = getattr(state, "crosscheck_limiter", None)
    if limiter is None:
        limiter = state.crosscheck_limiter = ExportLimiter(1, queue=0, wait=0)
    return limiter


def _safe_name(upload: UploadFile) -> str:
    """The file's own name (errors name it), without folders or odd characters."""
    name = _UNSAFE.sub("_", Path(upload.filename or "").name)[-100:]
    return name or "upload"


def _uploads(form: FormData) -> dict[str, UploadFile]:
    """The lists sent, checked: the two required ones present, .xlsx or .csv, at most MAX_FILE each."""
    found: dict[str, UploadFile] = {}
    for key in LISTS:
        value = form.get(key)
        if isinstance(value, UploadFile) and value.filename and (value.size or 0) > 0:
            found[key] = value
    for key in REQUIRED:
        if key not in found:
            raise InvalidInput("web.crosscheck.error.missing")
    for key, upload in found.items():
        if Path(upload.filename or "").suffix.lower() not in SUFFIXES:
            raise InvalidInput("web.crosscheck.error.suffix", file=_safe_name(upload))
        if (upload.size or 0) > MAX_FILE:
            raise InvalidInput("web.crosscheck.error.size", file=_safe_name(upload), mib=MAX_FILE >> 20)
    return found


def _as_of(form: FormData, today: date) -> date:
    value = form.get("as_of")
    if not isinstance(value, str) or not value.strip():
        return today
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("web.crosscheck.error.as_of") from None


def _read_lists(uploads: dict[str, UploadFile], folder: Path) -> dict[str, InputFile]:
    """Copies each upload to its own file (the readers take a path) and reads it: in a worker thread."""
    inputs = {}
    for key, upload in uploads.items():
        path = folder / key / _safe_name(upload)
        path.parent.mkdir()
        upload.file.seek(0)
        with path.open("wb") as out:
            while chunk := upload.file.read(1 << 20):
                out.write(chunk)
        inputs[key] = read_input(key, path)
    return inputs


async def run_upload(viewer: Viewer, access: Access, form: FormData) -> int:
    """Checks and reads the lists, runs the engine and saves the run (caller commits); its id."""
    assert access.county is not None
    uploads = _uploads(form)
    ages = AgeRule.for_day(_as_of(form, viewer.now.astimezone(viewer.services.tz).date()))
    with tempfile.TemporaryDirectory(prefix="nol-crosscheck-") as folder:
        inputs = await asyncio.to_thread(_read_lists, uploads, Path(folder))
    pupils, schools = await roster_of(viewer.uow, access.county.id)
    proposal = await asyncio.to_thread(propose, inputs, pupils, schools, ages)
    names = {key: _safe_name(upload) for key, upload in uploads.items()}
    saved = await save_run(
        viewer.uow,
        viewer.actor,
        proposal,
        county_id=access.county.id,
        sources=sources_of(inputs, names),
        now=viewer.now,
    )
    return saved.id
