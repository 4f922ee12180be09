"""The channel boundary (issue 14): business rules and storage name no chat channel, and the chat adapters
and the web app do not import the composition root."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.test_forms_layers import imported_packages

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_WORDS = re.compile(r"telegram|chat_id|callback_data|wecom", re.IGNORECASE)


def _modules(folder: str) -> list[Path]:
    return [p for p in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in p.parts]


def test_domain_and_storage_name_no_channel() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{number}": line.strip()
        for folder in ("domain", "storage")
        for path in _modules(folder)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if CHANNEL_WORDS.search(line)
    }
    assert found == {}


def test_domain_and_storage_import_no_adapter() -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & {"bot", "web", "app", "telegram"})
        for folder in ("domain", "storage")
        for path in _modules(folder)
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_adapters_do_not_import_the_composition_root() -> None:
    """The chat adapters (bot/) and the web adapter (web/) get what they need through protocols."""
    entry = ROOT / "bot" / "__main__.py"  # the bot's own entry point builds the process: it may
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & {"app"})
        for folder in ("bot", "web")
        for path in _modules(folder)
        if path != entry
    }
    assert {name: found for name, found in offending.items() if found} == {}
