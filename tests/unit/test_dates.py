"""Dates typed as people say them, relative to the person's local today (weeks start on Monday)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from bot.conversations.model import FormContext, Reask, Tap, Text
from bot.conversations.steps import NAV_PREFIX, DateStep, parse_day

WEDNESDAY = date(2026, 10, 14)
BEIJING = ZoneInfo("Asia/Shanghai")
NINE_AM = datetime(2026, 10, 14, 1, 0, tzinfo=UTC)  # that Wednesday, 09:00 in Beijing


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("今天", "2026-10-14"),
        ("明天", "2026-10-15"),
        ("后天", "2026-10-16"),
        ("昨天", "2026-10-13"),
        ("前天", "2026-10-12"),
        ("today", "2026-10-14"),
        ("Tomorrow", "2026-10-15"),
        ("YESTERDAY", "2026-10-13"),
        ("上周一", "2026-10-05"),
        ("上周三", "2026-10-07"),
        ("上周日", "2026-10-11"),
        ("上个星期五", "2026-10-09"),
        ("本周三", "2026-10-14"),
        ("这周三", "2026-10-14"),
        ("周三", "2026-10-14"),
        ("周一", "2026-10-12"),
        ("星期五", "2026-10-16"),
        ("礼拜天", "2026-10-18"),
        ("下周三", "2026-10-21"),
        ("下周日", "2026-10-25"),
        ("9月3日", "2026-09-03"),
        ("9月3号", "2026-09-03"),
        ("9.3", "2026-09-03"),
        ("9/3", "2026-09-03"),
        ("9-3", "2026-09-03"),
        ("09-03", "2026-09-03"),
        ("2026-09-03", "2026-09-03"),
        ("2026.9.3", "2026-09-03"),
        ("2026/9/3", "2026-09-03"),
        ("2026年9月3日", "2026-09-03"),
        ("2025年12月30号", "2025-12-30"),
        ("９月３日", "2026-09-03"),  # full-width digits, as some phone keyboards type them
        (" 9 月 3 日。", "2026-09-03"),
    ],
)
def test_every_way_of_saying_a_day_is_understood(typed: str, meant: str) -> None:
    assert parse_day(typed, WEDNESDAY) == date.fromisoformat(meant)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "前天吧",
        "hello",
        "下下周一",
        "上上周三",
        "周八",
        "13月1日",
        "2月30日",
        "2026-02-30",
        "2026-9/3",
        "9.3.2026",
        "0.5",
        "32",
        "1.5.3",
        "day after tomorrow",
        "明天后天",
    ],
)
def test_garbage_is_not_a_date(garbage: str) -> None:
    assert parse_day(garbage, WEDNESDAY) is None


def test_weeks_start_on_monday() -> None:
    sunday = date(2026, 10, 18)
    assert parse_day("周一", sunday) == date(2026, 10, 12)
    assert parse_day("下周一", sunday) == date(2026, 10, 19)
    assert parse_day("上周日", date(2026, 10, 12)) == date(2026, 10, 11)


def test_a_day_without_its_year_is_the_nearest_one() -> None:
    assert parse_day("12月28日", date(2027, 1, 3)) == date(2026, 12, 28)
    assert parse_day("1.5", date(2026, 12, 28)) == date(2027, 1, 5)
    assert parse_day("2月29日", date(2027, 10, 1)) == date(2028, 2, 29)  # the only one nearby


@dataclass
class FakeContext:
    """What a date step reads: the moment and the person's time zone (09:00 on a Wednesday in Beijing)."""

    now: datetime = NINE_AM
    tz: ZoneInfo = BEIJING


async def answer(step: DateStep, given: Text | Tap) -> object:
    answers: dict[str, object] = {}
    await step.receive(cast(FormContext, FakeContext()), answers, given)
    return answers[step.key]


async def test_a_past_date_step_refuses_tomorrow_and_a_future_one_takes_it() -> None:
    with pytest.raises(Reask) as refused:
        await answer(DateStep("since", "p"), Text("明天"))
    assert refused.value.key == "form.date_in_future"
    ahead = DateStep("promised", "p", allow_future=True, max_ahead_days=60, buttons=("today", "tomorrow"))
    assert await answer(ahead, Text("明天")) == "2026-10-15"
    assert await answer(ahead, Tap(1, "tomorrow")) == "2026-10-15"
    with pytest.raises(Reask) as too_far:
        await answer(ahead, Text("2027-01-01"))
    assert (too_far.value.key, too_far.value.params) == ("form.date_too_far", {"days": 60})


async def test_old_and_unreadable_dates_are_refused_and_optional_ones_may_be_skipped() -> None:
    step = DateStep("since", "p")
    for typed, key in (("2025-01-01", "form.date_too_old"), ("前天吧", "form.date_unreadable")):
        with pytest.raises(Reask) as refused:
            await answer(step, Text(typed))
        assert refused.value.key == key
    with pytest.raises(Reask):
        await answer(step, Tap(1, f"{NAV_PREFIX}skip"))  # not optional: a skip is no date
    assert (
        await answer(DateStep("next", "p", allow_future=True, optional=True), Tap(1, f"{NAV_PREFIX}skip"))
        is None
    )
    assert await answer(step, Text("上周五")) == "2026-10-09"
