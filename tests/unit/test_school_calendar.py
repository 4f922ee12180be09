"""The calendar file: the shipped 2026 arrangement, a county's file extending it, and clear refusals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.container import build_services
from app.settings import Settings, SettingsError
from domain.calendar.coverage import missing_holiday_years
from domain.calendar.school import CalendarError, Term, load_calendar
from domain.calendar.workdays import is_working_day
from domain.policy import DEFAULT_POLICY, PolicyError, load_policy

# Dates below for 2027 are made up for the tests: the 2027 arrangement is not shipped.
COUNTY_2027 = """
[[years]]
year = 2027
source = "test data, not the State Council's notice"
published = 2026-11-20
holidays = [
  { name = "test day off", from = 2027-01-01, to = 2027-01-03 },
  2027-04-05,
]
make_up_workdays = [2027-01-09]
"""


TWO_TERMS = '[[terms]]\nname = "a"\nstarts_on = 2026-09-01\nends_on = 2027-01-31\n\n[[terms]]\nname = "b"\nstarts_on = 2027-01-20\n'


def write(tmp_path: Path, text: str, name: str = "calendar.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_calendar_holds_2026_with_its_source() -> None:
    calendar = load_calendar()
    [year] = calendar.years
    assert year.year == 2026 and year.source == "国务院办公厅关于2026年部分节假日安排的通知"
    assert year.published == date(2025, 11, 4)
    assert [h.name for h in year.holidays] == [
        "元旦",
        "春节",
        "清明节",
        "劳动节",
        "端午节",
        "中秋节",
        "国庆节",
    ]
    assert len(calendar.holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert len(calendar.make_up_workdays) == 6
    assert [t.starts_on for t in calendar.terms or ()] == [date(2026, 9, 1), date(2027, 2, 22)]


def test_a_county_file_adds_a_year_and_keeps_the_shipped_ones(tmp_path: Path) -> None:
    policy = load_policy(calendar=write(tmp_path, COUNTY_2027))
    assert [y.year for y in policy.calendar_years] == [2026, 2027]
    assert not is_working_day(date(2027, 1, 1), policy) and not is_working_day(date(2027, 4, 5), policy)
    assert is_working_day(date(2027, 1, 9), policy)  # a Saturday, worked
    assert not is_working_day(date(2026, 10, 1), policy)  # still the shipped 2026
    assert missing_holiday_years(policy, date(2026, 11, 2)) == []
    assert missing_holiday_years(load_policy(), date(2026, 11, 2)) == [2027]
    assert missing_holiday_years(load_policy(), date(2026, 10, 31)) == []
    assert missing_holiday_years(load_policy(), date(2028, 3, 1)) == [2028]


def test_a_county_year_replaces_the_shipped_year_and_its_terms_replace_the_examples(tmp_path: Path) -> None:
    text = """
[[years]]
year = 2026
source = "a county's own copy"
holidays = [2026-10-01]

[[terms]]
name = "autumn"
starts_on = 2026-08-31
ends_on = 2027-01-15

[[vacations]]
name = "寒假"
from = 2027-01-16
to = 2027-02-21
"""
    policy = load_policy(calendar=write(tmp_path, text))
    assert policy.holidays == {date(2026, 10, 1)} and policy.make_up_workdays == frozenset()
    assert policy.terms == (Term("autumn", date(2026, 8, 31), date(2027, 1, 15)),)
    assert policy.term_on(date(2027, 1, 20)) is None  # the term has ended
    assert [v.name for v in policy.vacations] == ["寒假"]


def test_an_older_policy_file_keeps_its_terms_and_holidays(tmp_path: Path) -> None:
    text = (
        DEFAULT_POLICY.read_text(encoding="utf-8").replace("holidays = []", "holidays = [2026-11-11]")
        + '\n[[term_start.terms]]\nname = "old"\nstarts_on = 2026-09-07\n'
    )
    policy = load_policy(write(tmp_path, text, "policy.toml"))
    assert [t.name for t in policy.terms] == ["old"]
    assert date(2026, 11, 11) in policy.holidays and date(2026, 10, 1) in policy.holidays  # merged
    county_terms = write(tmp_path, '[[terms]]\nname = "county"\nstarts_on = 2026-09-01\n')
    assert [t.name for t in load_policy(tmp_path / "policy.toml", county_terms).terms] == ["county"]


def test_a_policy_holiday_on_a_make_up_workday_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace("holidays = []", "holidays = [2026-10-10]")
    with pytest.raises(PolicyError, match=r"quiet_hours.holidays: 2026-10-10 is a make-up working day"):
        load_policy(write(tmp_path, text, "policy.toml"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[years]]\nyear = 2027\nsource = "x"\nholidays = ["2027-02-30"]\n',
            r"years\[2027\].holidays\[0\]: '2027-02-30' is not a date like 2026-10-01 \(line 4\)",
        ),
        ('[[years]]\nyear = 2027\nsource = "x"\nholidays = [2027-02-30]\n', r"line 4"),  # TOML's own check
        (
            '[[years]]\nyear = 2027\nsource = "x"\nholidays = [\n  { from = 2027-10-07, to = 2027-10-01 },\n]\n',
            r"years\[2027\].holidays\[0\]: ends 2027-10-01 before it starts 2027-10-07 \(line 5\)",
        ),
        (
            '[[years]]\nyear = 2027\nsource = "x"\nholidays = [2027-10-09]\nmake_up_workdays = [\n  2027-10-09,\n]\n',
            r"years\[2027\]: 2027-10-09 is both a holiday and a make-up working day",
        ),
        (
            TWO_TERMS,
            r"terms: terms 'a' and 'b' overlap \(line 8\)",
        ),
        (
            '[[terms]]\nname = "a"\nstarts_on = 2026-09-01\nends_on = 2026-08-01\n',
            r"terms\[0\]: ends 2026-08-01 before it starts 2026-09-01 \(line 4\)",
        ),
        (
            '[[years]]\nyear = 2027\nsource = "x"\nmake_up_workday = [2027-01-09]\n',
            r"unknown key.*make_up_workday",
        ),
        ("[[years]]\nyear = 2027\nholidays = []\n", r"years\[0\]: missing \['source'\]"),
        (
            '[[years]]\nyear = 2027\nsource = "x"\n\n[[years]]\nyear = 2027\nsource = "y"\n',
            r"2027 is listed twice",
        ),
        (
            '[[years]]\nyear = 2027\nsource = "x"\nholidays = [2072-10-01]\n',
            r"2072-10-01 is too far from 2027",
        ),
        ('[[vacations]]\nname = "寒假"\nfrom = 2027-01-20\n', r"vacations\[0\]: missing \['to'\]"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message) as refused:
        load_policy(calendar=write(tmp_path, text))
    assert str(refused.value).startswith("calendar.toml")


def test_a_bad_calendar_file_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    settings = Settings(calendar_file=write(tmp_path, "[[terms]]\nname = 1\n"), _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="Invalid setting CALENDAR_FILE: calendar.toml: terms"):
        build_services(settings)


def test_the_example_in_the_docs_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "calendar.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    policy = load_policy(calendar=write(tmp_path, example))
    assert [y.year for y in policy.calendar_years] == [2026, 2027]
    assert [t.ends_on for t in policy.terms] == [date(2027, 1, 22), None]
