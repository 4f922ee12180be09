"""The weekly chart's geometry: whole-number ticks, bars scaled to them."""

from __future__ import annotations

from datetime import date, timedelta

from domain.reports.stats import WeekCount
from web.chart import weekly_chart


def test_ticks_are_evenly_spaced_whole_numbers_and_bars_scale_to_them() -> None:
    weeks = [WeekCount(date(2026, 9, 7) + timedelta(weeks=i), opened=i, returned=0) for i in range(12)]
    chart = weekly_chart(weeks)
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10", "15", "20"]
    top = int(chart.y_ticks[-1].label)
    tallest = max(chart.bars, key=lambda b: b.height)
    assert (
        tallest.value == 11
        and abs(tallest.height / (chart.baseline - chart.y_ticks[-1].position) - 11 / top) < 0.01
    )
    assert [t.label for t in chart.x_ticks][:2] == ["09-07", "09-14"] and len(chart.bars) == 24


def test_an_empty_chart_still_has_a_scale() -> None:
    chart = weekly_chart([WeekCount(date(2026, 10, 5), 0, 0)])
    assert [t.label for t in chart.y_ticks] == ["0", "1", "2", "3", "4"] and all(
        b.height == 0 for b in chart.bars
    )
