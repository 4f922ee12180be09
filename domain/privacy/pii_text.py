"""ID numbers and mobile numbers typed into free text (notes, outcome details, reasons): found on input,
where they are refused, and masked on every output that is not an authorised export (DOMAIN.md §8, PIPL).

Text is compared character by character after NFKC (full-width ０-９, ＋, －, Ｘ count as their ASCII
forms), so positions in the normalised text are positions in the original and masking keeps the rest of
the text exactly as typed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInput
from domain.privacy.identity import is_valid_id, mask_id, mask_phone

ID_NUMBER, MOBILE = "id_number", "mobile"
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
# An 18-character ID number (17 digits and a digit or X), maybe grouped 6-8-4 by a space or a dash. On
# input it must stand alone: a letter before it makes it a G-prefixed 学籍号, which some fields name on
# purpose. A mobile: 11 digits starting 13–19, maybe after +86/0086/86 and grouped 3-4-4.
_ID = r"[0-9]{6}[ -]?[0-9]{8}[ -]?[0-9]{3}[0-9Xx]"
_MOBILE = r"(?:(?:\+|00)?86[ -]?)?(?P<mobile>1[3-9][0-9](?:[ -]?[0-9]{4}){2})"
_FIND = re.compile(rf"(?<![0-9A-Za-z])(?P<id>{_ID})(?![0-9A-Za-z])|(?<![0-9]){_MOBILE}(?![0-9])")
_DIGIT = re.compile(r"\d")  # Unicode digits: full-width ones too
_SHORTEST = 11  # a text with fewer digits holds neither (a quick way out for names, labels, long exports)
# On output the net is wider: every ID-shaped number, also after a letter (the 学籍号 is masked everywhere
# else too) and with a wrong check digit (a mistyped ID number is still someone's ID number).
_MASK = re.compile(rf"(?<![0-9])(?P<id>{_ID})(?![0-9])|(?<![0-9]){_MOBILE}(?![0-9])")


@dataclass(frozen=True, slots=True)
class Identifier:
    """An ID or mobile number found in a text: its kind, where it is, and its digits."""

    kind: str
    start: int
    end: int
    digits: str


def _normalise(text: str) -> str:
    """NFKC per character, so that the result has the same length as `text`."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch) if ord(ch) > 0x7F else ch
        out.append(n if len(n) == 1 else ch)
    return "".join(out).translate(_DASHES)


def _digits(matched: str) -> str:
    return matched.replace(" ", "").replace("-", "").upper()


def _scan(pattern: re.Pattern[str], text: str) -> list[Identifier]:
    found: list[Identifier] = []
    if len(text) < _SHORTEST or len(_DIGIT.findall(text)) < _SHORTEST:
        return found
    for m in pattern.finditer(_normalise(text)):
        group = ID_NUMBER if m.group("id") is not None else MOBILE
        key = "id" if group == ID_NUMBER else "mobile"
        found.append(Identifier(group, m.start(key), m.end(key), _digits(m.group(key))))
    return found


def find_identifiers(text: str | None) -> list[Identifier]:
    """Checksum-valid ID numbers (GB 11643) and mainland mobile numbers standing alone in `text`."""
    if not text:
        return []
    return [i for i in _scan(_FIND, text) if i.kind == MOBILE or is_valid_id(i.digits)]


def mask_identifiers(text: str) -> str:
    """`text` with ID numbers as 4305**********1234 and mobiles as 138****0001, the rest as it was."""
    if not text:
        return text
    parts, at = [], 0
    for found in _scan(_MASK, text):
        masked = mask_id(found.digits) if found.kind == ID_NUMBER else mask_phone(found.digits)
        parts += [text[at : found.start], masked]
        at = found.end
    return "".join(parts) + text[at:] if parts else text


def mask_in(value: Any) -> Any:
    """Every string inside `value` (event data: dicts, lists, strings) masked; other values as they are."""
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, dict):
        return {k: mask_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_in(v) for v in value]
    return value


def refuse_identifiers(text: str | None) -> None:
    """Raises InvalidInput("identifiers_in_text") when free text holds an ID or mobile number: the
    structured fields of the roster are where they belong, with their own access rules."""
    if find_identifiers(text):
        raise InvalidInput("identifiers_in_text")
