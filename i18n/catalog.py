"""Looks up user-facing text by message id in the user's language.

Message ids are stable keys (`onboarding.unbound`); each language's `.po` files hold the text.
The `.po` files are read with Babel at start-up, so no compiled `.mo` files need to be shipped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
_LOCALES = Path(__file__).parent / "locales"


@cache
def _catalog(language: str) -> dict[str, str]:
    """All `.po` files of the language merged (one per area: messages, absence, visit, …)."""
    merged: dict[str, str] = {}
    for path in sorted((_LOCALES / language / "LC_MESSAGES").glob("*.po")):
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=language)
        for m in catalog:
            if not (m.id and m.string):
                continue
            if str(m.id) in merged:
                raise ValueError(f"message {m.id!r} defined twice ({path.name})")
            merged[str(m.id)] = str(m.string)
    return merged


def t(language: str, key: str, **params: object) -> str:
    """The text of `key` in `language` (falling back to Chinese), with {params} filled in."""
    text = _catalog(language).get(key) or _catalog(DEFAULT_LANGUAGE).get(key)
    if text is None:
        raise KeyError(f"message {key!r} missing from the catalogs")
    return text.format(**params) if params else text


def keys(language: str) -> set[str]:
    return set(_catalog(language))
