"""The forms core stays channel-neutral and below the composition root: it imports neither `app` nor a
chat library, so a second channel (WeCom) reuses it as it is."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.conversations

FORBIDDEN = ("app", "telegram", "web")


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports (TYPE_CHECKING imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_form_module_imports_the_composition_root_or_a_channel() -> None:
    folder = Path(bot.conversations.__file__).parent
    offending = {
        path.name: sorted(imported_packages(path) & set(FORBIDDEN)) for path in sorted(folder.glob("*.py"))
    }
    assert {name: found for name, found in offending.items() if found} == {}
