"""Name keys for matching: the written form, the simplified-character form and the pinyin."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC  # type: ignore[import-untyped]
from pypinyin import lazy_pinyin

# Spaces and the separators of minority and foreign names (·, •, ．, -) are written inconsistently.
_DROP = re.compile(r"[\s·•‧・．.\-]")
_T2S = OpenCC("t2s")


@lru_cache(maxsize=65536)
def written(name: str) -> str:
    """NFKC (full-width letters to ASCII), separators and spaces dropped, upper case."""
    return _DROP.sub("", unicodedata.normalize("NFKC", name)).upper()


@lru_cache(maxsize=65536)
def simplified(name: str) -> str:
    """The written form in simplified characters (陳小明 → 陈小明)."""
    return str(_T2S.convert(written(name)))


@lru_cache(maxsize=65536)
def pinyin(name: str) -> str:
    """Toneless pinyin of the simplified form: homophones and mis-typed characters share it."""
    return "".join(lazy_pinyin(simplified(name))).upper()
