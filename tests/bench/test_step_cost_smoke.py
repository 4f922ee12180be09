"""bench.step_cost runs end to end with tiny counts: the emulator, the echo bot and the product bot in
their own processes, the phones here. Only what was counted is checked, never a timing."""

from __future__ import annotations

import math

from bench.step_cost import measure, options


async def test_step_cost_measures_the_bots_cpu_with_tiny_counts() -> None:
    args = options(
        [
            "--only",
            "echo",
            "product",
            "--backends",
            "sqlite",
            "--updates",
            "30",
            "--phones",
            "3",
            "--teachers",
            "3",
            "--single-updates",
            "6",
        ]
    )
    run = await measure(args)
    by_name = {r.scenario: r for r in run.results}
    saturated = ["echo", "search step of /report", "/cancel then /report"]
    alone = [name + ", one at a time" for name in saturated]
    assert set(by_name) == {*saturated, *alone}
    # every phone did whole rounds: 10 searches each, and 5 rounds of /cancel + /report; one phone alone 6
    assert [by_name[s].updates for s in saturated] == [30, 30, 30]
    assert [by_name[s].updates for s in alone] == [6, 6, 6]
    for result in run.results:
        # the bot's own process did the work: its CPU time was read from /proc, and was not zero
        assert result.window.cpu["bot"] > 0, result.scenario
        assert 0 <= result.window.cpu["bot kernel"] <= result.window.cpu["bot"], result.scenario
        assert result.window.load.startswith("load ")
    for name in saturated[1:] + alone[1:]:
        # paired: the echo bot was measured right before each of the 3 repeats, each ratio against its own
        result = by_name[name]
        assert len(result.beside) == len(result.ratios) == len(result.spread) == 3, name
        assert all(b > 0 for b in result.beside), name
        per = result.window.per(result.updates)
        assert any(math.isclose(per / b, r) for b, r in zip(result.beside, result.ratios, strict=True)), name


async def test_step_cost_ends_with_the_profile_of_a_search_step(capsys) -> None:  # type: ignore[no-untyped-def]
    args = options(["--only", "profile", "--profile-updates", "30", "--phones", "3"])
    await measure(args)
    out = capsys.readouterr().out
    assert "Profile: 30 search steps on sqlite" in out
    assert "profiled time:" in out and "| sqlalchemy |" in out  # the top of it, by package


async def test_step_cost_counts_instructions_per_update_under_callgrind() -> None:
    args = options(["--only", "instructions", "--backends", "sqlite", "--counted-updates", "4"])
    run = await measure(args)
    assert [(c.scenario, c.updates) for c in run.counts] == [
        ("echo", 4),
        ("search step of /report", 4),
        ("/cancel then /report", 4),
    ]
    # callgrind counted only the measured updates: millions of instructions each, not the start-up's billions
    for c in run.counts:
        assert 1e6 < c.per_update < 1e9, c
