"""Logging set-up: national ID numbers and mobile numbers never reach a log line in full (DOMAIN.md §8).
Plain text by default; LOG_FORMAT=json gives one JSON object per line with the request id or the
Telegram update id of the work that wrote it."""

from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from domain.privacy.identity import mask_id, mask_phone
from ops.log_context import request_id, update_id

# 18-character ID numbers (17 digits + digit or X) standing alone, also inside G-prefixed 学籍号.
_ID_PATTERN = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx])(?![0-9])")
# Mainland mobile numbers: 11 digits starting 13–19, maybe after +86 and grouped 3-4-4 by spaces or dashes,
# standing alone (not part of a longer number).
_MOBILE_PATTERN = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?(1[3-9][0-9](?:[ -]?[0-9]{4}){2})(?![0-9])")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")
# Paths the demo's chat simulator polls every second or so: not worth a line each.
QUIET_PATHS = ("/simulator/api/chat/",)


def mask_ids(text: str) -> str:
    """ID numbers and mobile numbers in free text, masked (4305**********1234, 138****0001)."""
    # Every ID-shaped number, not only checksum-valid ones: a mistyped ID number is still personal data.
    text = _ID_PATTERN.sub(lambda m: mask_id(m.group(1)), text)
    return _MOBILE_PATTERN.sub(lambda m: mask_phone(m.group(1)), text)


class MaskIdsFilter(logging.Filter):
    """Rewrites each record's message, and its exception text, with ID and mobile numbers masked,
    so every handler (also ones that format the traceback themselves) gets masked text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_ids(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatter.format uses a pre-rendered exc_text as it is, so this is what gets printed.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_ids(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_ids(record.stack_info)
        return True


class MaskingFormatter(logging.Formatter):
    """A formatter whose whole output is masked: a second line of defence behind the filter."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_ids(super().format(record))


class MaskingJsonFormatter(JsonFormatter):
    """One JSON object per line (time, level, logger, message, request_id / update_id, exc_info), masked
    like MaskingFormatter: the traceback is formatted again from the exception, so it is masked here too."""

    def __init__(self) -> None:
        super().__init__(
            list(JSON_FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            # uvicorn's colour copy of each message is noise in a collector
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            json_ensure_ascii=False,  # readable Chinese; and digits next to a character stay maskable
        )

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None],
    ) -> str:
        text = super().formatException(ei)  # a list only with exc_info_as_array, which we do not use
        return mask_ids(text if isinstance(text, str) else "\n".join(text))

    def format(self, record: logging.LogRecord) -> str:
        return mask_ids(super().format(record))


class ContextFilter(logging.Filter):
    """Adds the request id and the update id of the work in progress to the record, where known."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (rid := request_id.get()) is not None:
            record.request_id = rid
        if (uid := update_id.get()) is not None:
            record.update_id = uid
        return True


class QuietPolls(logging.Filter):
    """Drops uvicorn's access line of a successful poll by the demo's chat simulator."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        # uvicorn.access: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, _version, status = args
            if method == "GET" and str(path).startswith(QUIET_PATHS) and status == 200:
                return False
        return True


def make_formatter(log_format: str) -> logging.Formatter:
    return MaskingJsonFormatter() if log_format == "json" else MaskingFormatter(FORMAT)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Logs to stderr as text or JSON lines, every handler masking ID and mobile numbers. uvicorn's
    loggers propagate here (the runner gives uvicorn no logging config of its own)."""
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(ContextFilter())
        handler.addFilter(MaskIdsFilter())
        handler.setFormatter(make_formatter(log_format))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # also under the uvicorn command's own set-up
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").addFilter(QuietPolls())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Two lines per job run ("Running job", "executed successfully") every 10 s; failures stay (ERROR).
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines contain the bot token in URLs
