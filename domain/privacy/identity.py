"""National ID numbers (居民身份证号): checksum validation; masking of IDs, names, phones, addresses (DOMAIN.md §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PATTERN = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise_id(value: str) -> str:
    return value.strip().upper().replace(" ", "")


def id_problem(value: str) -> str | None:
    """Why an ID number is invalid (a short English reason), or None when it is valid."""
    v = normalise_id(value)
    if not _PATTERN.match(v):
        return "must be 18 characters: 17 digits and a digit or X"
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "contains an impossible birth date"
    if id_check_char(v[:17]) != v[17]:
        return "checksum does not match (a digit is probably mistyped)"
    return None


def is_valid_id(value: str) -> bool:
    return id_problem(value) is None


def mask_id(value: str | None) -> str:
    """Keeps the first 6 and last 4 characters: 4305**********1234 style."""
    if not value:
        return ""
    v = normalise_id(value)
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_student_number(value: str | None) -> str:
    """G-prefixed 学籍号 contain the ID number ([P22]), so they are masked the same way."""
    if not value:
        return ""
    if value[:1].upper() == "G" and len(value) == 19:
        return value[0] + mask_id(value[1:])
    return mask_id(value) if len(value) > 10 else value


def mask_name(name: str) -> str:
    """张*明 for three characters, 张* for two; keeps only first and last character visible."""
    n = name.strip()
    if len(n) <= 1:
        return n
    if len(n) == 2:
        return n[0] + "*"
    return n[0] + "*" * (len(n) - 2) + n[-1]


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    p = phone.strip()
    return p[:3] + "****" + p[-4:] if len(p) >= 11 else "*" * len(p)


def mask_address(address: str | None) -> str:
    """Keeps the start (province, city or county: at most 6 characters, and never more than half) and
    hides the rest, where the village, street and house number are."""
    if not address:
        return ""
    a = address.strip()
    return a[: min(6, len(a) // 2)] + "****"


@dataclass(frozen=True, slots=True)
class NationalId:
    """An ID number that prints masked, so it cannot leak into logs or messages by accident."""

    value: str

    def __str__(self) -> str:
        return mask_id(self.value)

    def __repr__(self) -> str:
        return f"NationalId({mask_id(self.value)!r})"

    def reveal(self) -> str:
        """The full number; only for an authorised export."""
        return self.value
