"""The message catalogs: both languages have every message, and every key the code names exists."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from i18n.catalog import keys

ROOT = Path(__file__).resolve().parents[2]
CODE = ["app", "bot", "domain", "web"]
KEY = re.compile(r"^[a-z_]+\.[a-z0-9_]+(\.[a-z0-9_]+)*$")


def _catalog_prefixes() -> set[str]:
    return {k.split(".")[0] for k in keys("zh_CN")}


def _string_literals() -> set[tuple[str, str]]:
    found = set()
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            # Pieces of f-strings (f"status.{status}") are not whole keys.
            parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in parts
                    and KEY.match(node.value)
                ):
                    found.add((node.value, str(path.relative_to(ROOT))))
    return found


def test_both_languages_have_the_same_messages() -> None:
    assert keys("zh_CN") == keys("en")


def test_every_message_key_named_in_code_exists() -> None:
    prefixes = _catalog_prefixes()
    known = keys("zh_CN")
    stems = {k.rsplit(".", 1)[0] for k in known}  # "visit.outcome" names the family visit.outcome.*
    missing = sorted(
        f"{key} ({where})"
        for key, where in _string_literals()
        if key.split(".")[0] in prefixes
        and key not in known
        and key not in stems
        and not key.endswith((".py", ".po", ".toml", ".xlsx", ".html", ".json"))
    )
    assert missing == []


def test_placeholders_match_between_languages() -> None:
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    from i18n.catalog import _catalog

    zh, en = _catalog("zh_CN"), _catalog("en")
    assert {k for k in zh if fields(zh[k]) != fields(en[k])} == set()


def test_chinese_messages_are_in_chinese() -> None:
    from i18n.catalog import _catalog

    zh = _catalog("zh_CN")
    untranslated = {
        k
        for k, v in zh.items()
        if not re.search(r"[\u4e00-\u9fff]", v)
        and not re.fullmatch(r"[\W\d_A-Za-z]*", v.replace("English", ""))
    }
    assert untranslated == set()
