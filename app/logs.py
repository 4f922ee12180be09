"""Logging set-up: national ID numbers and mobile numbers never reach a log line in full (DOMAIN.md §8)."""

from __future__ import annotations

import logging
import re

from domain.identity import mask_id, mask_phone

# 18-character ID numbers (17 digits + digit or X) standing alone, also inside G-prefixed 学籍号.
_ID_PATTERN = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx])(?![0-9])")
# Mainland mobile numbers: 11 digits starting 13–19, maybe after +86 and grouped 3-4-4 by spaces or dashes,
# standing alone (not part of a longer number).
_MOBILE_PATTERN = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?(1[3-9][0-9](?:[ -]?[0-9]{4}){2})(?![0-9])")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def configure_logging(level: str) -> None:
    """Plain-text logs to stderr, every handler masking ID and mobile numbers."""
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskIdsFilter())
        handler.setFormatter(MaskingFormatter(FORMAT))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines contain the bot token in URLs
