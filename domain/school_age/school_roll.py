"""Whether a child is on a school roll, and the internal number of one who is not (失学).

A child found on no school roll (issue 16) is kept as a student row without school or class. The row
still needs a unique student number; it gets an internal placeholder that is never shown as a 学籍号.
"""

from __future__ import annotations

import secrets

CASE_KINDS = ("dropout", "out_of_school")  # cases.kind: 辍学 (left a roll) | 失学 (never enrolled)
DROPOUT, OUT_OF_SCHOOL = CASE_KINDS
PLACEHOLDER_PREFIX = "OOS-"
NOT_SHOWN = "—"


def placeholder_number() -> str:
    """A fresh internal number for a child on no school roll, e.g. OOS-3F2A9C1B7D4E."""
    return PLACEHOLDER_PREFIX + secrets.token_hex(6).upper()


def is_placeholder(student_number: str | None) -> bool:
    return bool(student_number) and str(student_number).startswith(PLACEHOLDER_PREFIX)


def shown_number(student_number: str | None) -> str:
    """The 学籍号 as shown to people: "—" for a child on no roll (the placeholder is not a 学籍号)."""
    return NOT_SHOWN if not student_number or is_placeholder(student_number) else student_number


def number_tail(student_number: str | None) -> str:
    """The last four digits that tell namesakes apart in labels ("…1234"); nothing for a placeholder."""
    return "" if not student_number or is_placeholder(student_number) else "…" + student_number[-4:]
