"""Developer helper: add or update messages in both catalogs from Python (keeps .po formatting)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).parent / "locales"


def set_messages(domain: str, messages: dict[str, tuple[str, str]]) -> None:
    """messages: key -> (Chinese, English); written to locales/<lang>/LC_MESSAGES/<domain>.po."""
    for index, language in enumerate(("zh_CN", "en")):
        path = LOCALES / language / "LC_MESSAGES" / f"{domain}.po"
        if path.exists():
            with open(path, "rb") as fh:
                catalog = read_po(fh, locale=language)
        else:
            catalog = Catalog(locale=language, project="not-one-less", version="0.1")
        for key, texts in messages.items():
            if key in catalog:  # Babel keeps the old text when adding an existing id
                del catalog[key]
            catalog.add(key, texts[index])
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            write_po(fh, catalog, width=0)


def remove_messages(domain: str, keys: list[str]) -> None:
    """Deletes messages from both catalogs of a domain (e.g. when they move to another domain)."""
    for language in ("zh_CN", "en"):
        path = LOCALES / language / "LC_MESSAGES" / f"{domain}.po"
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=language)
        for key in keys:
            if key in catalog:
                del catalog[key]
        with open(path, "wb") as fh:
            write_po(fh, catalog, width=0)
