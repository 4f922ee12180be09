"""Dates typed as people say them: 前天, 上周五, 9月3号, 9.3, 2026-09-03, tomorrow, …"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

# Days counted from the person's local today.
_RELATIVE = {
    "今天": 0,
    "今日": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
    "today": 0,
    "tomorrow": 1,
    "yesterday": -1,
}
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEK_SHIFT = {"上": -7, "本": 0, "这": 0, "": 0, "下": 7}
# 上周一, 上个星期五, 本周三, 这周三, 周三 (this week), 下礼拜天. Weeks start on Monday.
_WEEK = re.compile(r"(?P<which>[上本这下]?)个?(?:周|星期|礼拜)(?P<day>[一二三四五六日天])")
_WITH_YEAR = (
    re.compile(r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"),  # 2026-09-03, 2026.9.3
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?"),  # 2026年9月3日
)
_WITHOUT_YEAR = (
    re.compile(r"(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?"),  # 9月3日, 9月3号
    re.compile(r"(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"),  # 9.3, 9/3, 9-3
)


def _normalise(text: str) -> str:
    """Full-width digits and punctuation become ASCII (NFKC); spaces and a closing 。 go."""
    value = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"\s+", "", value).rstrip("。")


def _nearest(month: int, day: int, today: date) -> date | None:
    """A date given without its year: the one nearest to today (the earlier one on a tie), so that
    12月28日 typed on 3 January is last December and 1月5日 typed on 28 December is next January."""
    found = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda d: (abs((d - today).days), d > today)) if found else None


def parse_day(text: str, today: date) -> date | None:
    """The day a person means, relative to their local `today`; None when it cannot be read.
    Understands 今天/明天/后天/昨天/前天, today/tomorrow/yesterday, 上周一…下周日 (本周三, 这周三 and
    周三 are this week's), 9月3日, 9月3号, 9.3, 9/3, 9-3, 2026-09-03, 2026.9.3, 2026/9/3, 2026年9月3日."""
    value = _normalise(text)
    if value in _RELATIVE:
        return today + timedelta(days=_RELATIVE[value])
    if m := _WEEK.fullmatch(value):
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=_WEEK_SHIFT[m["which"]] + _WEEKDAY[m["day"]])
    for pattern in _WITH_YEAR:
        if m := pattern.fullmatch(value):
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                return None
    for pattern in _WITHOUT_YEAR:
        if m := pattern.fullmatch(value):
            return _nearest(int(m["m"]), int(m["d"]), today)
    return None
