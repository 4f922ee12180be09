"""Logging set-up: national ID numbers never reach a log line in full (DOMAIN.md §8)."""

from __future__ import annotations

import logging
import re

from domain.identity import mask_id

# 18-character ID numbers (17 digits + digit or X) standing alone, also inside G-prefixed 学籍号.
_ID_PATTERN = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx])(?![0-9])")


def mask_ids(text: str) -> str:
    return _ID_PATTERN.sub(lambda m: mask_id(m.group(1)), text)


class MaskIdsFilter(logging.Filter):
    """Rewrites each record's final message with ID numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_ids(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str) -> None:
    """Plain-text logs to stderr, every handler masking ID numbers."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskIdsFilter())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines contain the bot token in URLs
