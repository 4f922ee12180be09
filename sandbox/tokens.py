"""Fake bot tokens that can never be mistaken for (or leak as) real Telegram tokens."""

from __future__ import annotations

import re
import secrets

# The shape of real tokens; sandbox tokens are built so that they never match it.
REAL_TOKEN_RE = re.compile(r"[0-9]{8,10}:[A-Za-z0-9_-]{35}")


def fake_token(bot_id: int = 100001) -> str:
    """Return a token like "100001:TEST-1f2e3d4c5b6a7988" (short id, 21-char secret)."""
    if len(str(bot_id)) >= 8:
        raise ValueError("sandbox bot ids are kept below 8 digits so tokens never look real")
    token = f"{bot_id}:TEST-{secrets.token_hex(8)}"
    assert not REAL_TOKEN_RE.search(token)
    return token


def looks_real(token: str) -> bool:
    """Return whether a token has the shape of a real Telegram token."""
    return REAL_TOKEN_RE.search(token) is not None
