"""What a person reads in chat: labels from the catalog, never an internal key or code."""

from __future__ import annotations

import re

# A Chinese chat message has no run of Latin letters: any (school_confirmed, home, yes, …) is a leak.
_LATIN_WORD = re.compile(r"[A-Za-z_]{3,}")


def assert_no_internal_words(text: str) -> None:
    """Fails on a Chinese message that shows a code or key instead of its label (commands aside)."""
    words = _LATIN_WORD.findall(re.sub(r"/[a-z]+", "", text))
    assert words == [], f"internal words {words} in: {text}"
