"""Reading single cells of a roster row: text, choices, dates, phones, lists; problems are collected."""

from __future__ import annotations

import re
from datetime import date, datetime

from domain.roster.format import RosterProblem, SheetInfo, SheetSpec

EMPTY = "必填项为空 (required cell is empty)"
SEPARATORS = re.compile(r"[;；、,，]")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PHONE = re.compile(r"^\+?[\d-]{7,20}$")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cell_text(value: object) -> str | None:
    """A cell as trimmed text; numbers Excel stored as floats (phones, 学籍号) lose their '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\u3000", " ").strip()
    return text or None


def parse_date(value: object) -> date | None:
    """A date cell or text in YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日 or YYYYMMDD; None if not."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if text is None:
        return None
    for pattern in _DATE_PATTERNS:
        if m := pattern.match(text):
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


def normalise_mobile(text: str) -> str:
    """Drops spaces, dashes and a +86 prefix, so '+86 138-0000-0001' matches '13800000001'."""
    digits = re.sub(r"[\s-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def parse_grade(text: str) -> int | None:
    """1–9 from '5', '五年级', '初一' (= 7); None when not a compulsory-education grade."""
    t = text.removesuffix("年级")
    if t.startswith("初") and len(t) == 2 and t[1] in _CN_DIGITS:
        grade = 6 + _CN_DIGITS[t[1]]
    elif t in _CN_DIGITS:
        grade = _CN_DIGITS[t]
    elif t.isdigit():
        grade = int(t)
    else:
        return None
    return grade if 1 <= grade <= 9 else None


def split_items(text: str | None) -> tuple[str, ...]:
    """'a；b、c' -> ('a', 'b', 'c'), dropping empty pieces and repeats."""
    if not text:
        return ()
    return tuple(dict.fromkeys(p.strip() for p in SEPARATORS.split(text) if p.strip()))


class RowCells:
    """The cells of one data row by field name, with helpers that record problems where they are."""

    def __init__(
        self,
        spec: SheetSpec,
        info: SheetInfo,
        row: int,
        values: dict[str, object],
        problems: list[RosterProblem],
    ) -> None:
        self.spec, self.info, self.row, self.values, self.problems = spec, info, row, values, problems

    def problem(self, field: str, message: str) -> None:
        self.problems.append(
            RosterProblem(self.info.label, self.row, self.info.header(self.spec, field), message)
        )

    def text(self, field: str, *, required: bool = True, max_len: int = 50) -> str | None:
        """The cell's text; an empty required cell is reported only when its column exists
        (a missing column is reported once, on the header row)."""
        value = cell_text(self.values.get(field))
        if value is None:
            if required and field in self.info.headers:
                self.problem(field, EMPTY)
            return None
        if len(value) > max_len:
            self.problem(field, f"内容过长，最多 {max_len} 个字 (too long: at most {max_len} characters)")
            return None
        return value

    def choice(self, field: str, options: dict[str, str], allowed: str) -> str | None:
        """One of `options` (matched case-insensitively); `allowed` lists them for the message."""
        value = self.text(field)
        if value is None:
            return None
        found = options.get(value) or options.get(value.lower().replace(" ", "_"))
        if found is None:
            self.problem(field, f"“{value}” 无法识别，应为 {allowed} (not one of the allowed values)")
        return found

    def date(self, field: str) -> date | None:
        raw = self.values.get(field)
        if cell_text(raw) is None:
            self.text(field)  # reports the empty cell
            return None
        day = parse_date(raw)
        if day is None:
            self.problem(field, f"“{cell_text(raw)}” 不是有效日期，请写成 2015-03-01 (not a valid date)")
        return day

    def mobile(self, field: str) -> str | None:
        value = self.text(field, max_len=20)
        if value is None:
            return None
        phone = normalise_mobile(value)
        if not _MOBILE.match(phone):
            self.problem(field, f"“{value}” 不是11位手机号 (not an 11-digit mobile number)")
            return None
        return phone

    def phone(self, field: str) -> str | None:
        """Any phone number (a guardian may only have a landline); optional."""
        value = self.text(field, required=False, max_len=20)
        if value is None:
            return None
        phone = re.sub(r"\s", "", value)
        if not _PHONE.match(phone):
            self.problem(field, f"“{value}” 不是有效电话号码 (not a valid phone number)")
            return None
        mobile = normalise_mobile(phone)
        return mobile if _MOBILE.match(mobile) else phone
