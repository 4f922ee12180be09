"""A small grouped bar chart (cases opened / returned per week) laid out for an inline SVG."""

from __future__ import annotations

from dataclasses import dataclass

from domain.reports.stats import WeekCount

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 16, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: str  # "opened" | "returned"


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    baseline: float
    left: int
    right: int


def _tick_step(value: int, ticks: int = 4) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 … with `ticks` steps reaching `value`, so labels are whole."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * ticks >= value:
                return step * factor
        step *= 10


def weekly_chart(weeks: list[WeekCount]) -> Chart:
    """Two bars per week; the y axis is scaled to the largest count."""
    step = _tick_step(max([w.opened for w in weeks] + [w.returned for w in weeks] + [0]))
    top = step * 4
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(weeks), 1)
    bar_w = slot * 0.36
    baseline = TOP + plot_h
    bars, x_ticks = [], []
    for i, week in enumerate(weeks):
        x0 = LEFT + i * slot + slot * 0.12
        for j, (series, value) in enumerate((("opened", week.opened), ("returned", week.returned))):
            h = plot_h * value / top
            bars.append(
                Bar(
                    x=round(x0 + j * bar_w, 1),
                    y=round(baseline - h, 1),
                    width=round(bar_w, 1),
                    height=round(h, 1),
                    value=value,
                    series=series,
                )
            )
        x_ticks.append(
            Tick(position=round(LEFT + (i + 0.5) * slot, 1), label=week.starts_on.strftime("%m-%d"))
        )
    y_ticks = [Tick(position=round(baseline - plot_h * k / 4, 1), label=str(step * k)) for k in range(5)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        baseline=baseline,
        left=LEFT,
        right=WIDTH - RIGHT,
    )
