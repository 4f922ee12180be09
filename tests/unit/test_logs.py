"""ID numbers and mobile numbers are masked in every log line, traceback included, whatever logger wrote them;
LOG_FORMAT=json gives one object per line with the request id or update id."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from telegram import Update

from app.logs import (
    FORMAT,
    ContextFilter,
    MaskIdsFilter,
    MaskingFormatter,
    MaskingJsonFormatter,
    QuietPolls,
    make_formatter,
    mask_ids,
)
from bot.inbox import Inbox, InboxProcessor
from web.request_id import RequestId

ID = "11010519491231002X"
PHONE = "13800000001"


def test_ids_are_masked_inside_text() -> None:
    assert mask_ids(f"student G{ID} and {ID.lower()}") == "student G110105********002X and 110105********002X"
    assert mask_ids("case 2026-000123, id 12345") == "case 2026-000123, id 12345"


def test_mobile_numbers_are_masked_in_every_usual_spelling() -> None:
    assert mask_ids(f"phone {PHONE}.") == "phone 138****0001."
    assert mask_ids("+86 138-0000-0001, 8613800000001") == "138****0001, 138****0001"
    assert mask_ids("Key (phone)=(13800000001) already exists") == "Key (phone)=(138****0001) already exists"
    # Longer digit runs are not phones (nor 11-digit numbers that do not start 13–19).
    assert mask_ids("12800000001 and 138000000012") == "12800000001 and 138000000012"


def test_the_filter_masks_formatted_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "imported %s, %s", (ID, PHONE), None)
    MaskIdsFilter().filter(record)
    assert ID not in record.getMessage() and PHONE not in record.getMessage()
    assert "110105********002X" in record.getMessage()
    assert "138****0001" in record.getMessage()


def _log_failure(handler: logging.Handler) -> None:
    log = logging.getLogger("test_logs.masking")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError(f"insert failed [parameters: ('{ID}', '{PHONE}')]")
        except ValueError:
            log.exception("import of %s failed", PHONE)
    finally:
        log.removeHandler(handler)


def test_the_traceback_is_masked_by_the_filter() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))  # a plain formatter: the filter alone must do it
    handler.addFilter(MaskIdsFilter())
    _log_failure(handler)
    text = out.getvalue()
    assert "Traceback" in text and "ValueError: insert failed" in text
    assert ID not in text and PHONE not in text
    assert "110105********002X" in text and "138****0001" in text


def test_the_masking_formatter_masks_the_whole_output() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(MaskingFormatter(FORMAT))  # without the filter
    _log_failure(handler)
    text = out.getvalue()
    assert "Traceback" in text
    assert ID not in text and PHONE not in text


def _json_handler(out: io.StringIO) -> logging.Handler:
    """A handler set up as configure_logging(level, "json") sets up the real ones."""
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.addFilter(MaskIdsFilter())
    handler.setFormatter(MaskingJsonFormatter())
    return handler


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_logs_are_one_masked_object_per_line() -> None:
    out = io.StringIO()
    _log_failure(_json_handler(out))
    records = _lines(out)  # the traceback too stays inside its one line
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "ERROR" and record["logger"] == "test_logs.masking"
    assert record["message"] == "import of 138****0001 failed"
    assert "ValueError: insert failed" in record["exc_info"] and "110105********002X" in record["exc_info"]
    assert ID not in out.getvalue() and PHONE not in out.getvalue()
    assert "update_id" not in record and "request_id" not in record  # none known here


def test_a_json_line_written_while_an_update_is_handled_carries_its_id() -> None:
    class NoInbox(Inbox):
        def __init__(self) -> None:  # only `handled` is called here
            pass

        def handled(self, update_id: int) -> None:
            pass

    out = io.StringIO()
    log = logging.getLogger("test_logs.bot")
    log.addHandler(_json_handler(out))
    log.propagate = False

    async def handler() -> None:
        log.warning("reply to 张三 13800000001 not sent")

    async def main() -> None:
        processor = InboxProcessor(NoInbox())
        await processor.do_process_update(Update(update_id=4242), handler())
        log.warning("between updates")

    try:
        asyncio.run(main())
    finally:
        log.handlers.clear()
    during, after = _lines(out)
    assert during["update_id"] == 4242 and during["message"] == "reply to 张三 138****0001 not sent"
    assert "update_id" not in after


async def test_a_request_gets_an_id_in_its_log_lines_and_its_response() -> None:
    out = io.StringIO()
    log = logging.getLogger("test_logs.web")
    log.addHandler(_json_handler(out))
    log.propagate = False

    async def page(request: Request) -> PlainTextResponse:
        log.warning("page for %s", request.query_params.get("who"))
        return PlainTextResponse("ok")

    app = RequestId(Starlette(routes=[Route("/", page)]))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            first = await client.get("/", params={"who": PHONE})
            kept = await client.get("/", headers={"X-Request-ID": "proxy-id-0001"})
            replaced = await client.get("/", headers={"X-Request-ID": "bad id; with text"})
    finally:
        log.handlers.clear()
    lines = _lines(out)
    assert [line["request_id"] for line in lines] == [
        first.headers["x-request-id"],
        "proxy-id-0001",
        replaced.headers["x-request-id"],
    ]
    assert kept.headers["x-request-id"] == "proxy-id-0001"
    assert re.fullmatch(r"[0-9a-f]{16}", replaced.headers["x-request-id"])
    assert lines[0]["message"] == "page for 138****0001"


def test_text_logs_stay_plain_lines() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(make_formatter("text"))
    log = logging.getLogger("test_logs.text")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("plain %s", PHONE)
    finally:
        log.handlers.clear()
    assert re.fullmatch(r"\S+ \S+ WARNING test_logs\.text: plain 138\*\*\*\*0001\n", out.getvalue())


def test_the_simulators_polls_leave_no_access_line() -> None:
    def access(method: str, path: str, status: int) -> logging.LogRecord:
        args = ("127.0.0.1:5000", method, path, "1.1", status)
        return logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
        )

    quiet = QuietPolls()
    assert not quiet.filter(access("GET", "/simulator/api/chat/7000001?known=3", 200))
    assert quiet.filter(access("GET", "/simulator/api/chat/7000001", 500))  # failures stay visible
    assert quiet.filter(access("POST", "/simulator/api/chat/7000001/send", 200))
    assert quiet.filter(access("GET", "/dashboard", 200))
