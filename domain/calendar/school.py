"""The school calendar as data: public holidays and make-up working days (调休) per year, school terms and
vacations. Read from domain/calendar/default.toml, extended by a county's CALENDAR_FILE (docs/calendar.md);
domain.calendar.workdays turns it into working days and school days."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

DEFAULT_CALENDAR = Path(__file__).with_name("default.toml")
_MAX_RANGE_DAYS = 366  # a holiday or vacation longer than a year is a typo


class CalendarError(ValueError):
    """The calendar file is malformed; the message names the file, the key and, where found, the line."""


@dataclass(frozen=True)
class Term:
    """A school term (学期): from its first day to its last (optional: else until the next term starts)."""

    name: str
    starts_on: date
    ends_on: date | None = None


@dataclass(frozen=True)
class DateRange:
    """Named consecutive days, both ends included: a public holiday, a vacation."""

    name: str
    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    def days(self) -> Iterator[date]:
        for n in range((self.last - self.first).days + 1):
            yield self.first + timedelta(days=n)


@dataclass(frozen=True)
class HolidayYear:
    """One year's arrangement as the State Council published it: days off and make-up working days."""

    year: int
    source: str  # the notice's title
    published: date | None
    holidays: tuple[DateRange, ...]
    make_up_workdays: frozenset[date]

    def days_off(self) -> frozenset[date]:
        return frozenset(day for r in self.holidays for day in r.days())


@dataclass(frozen=True)
class SchoolCalendar:
    years: tuple[HolidayYear, ...] = ()
    terms: tuple[Term, ...] | None = None  # None: this file lists no terms (another file's stand)
    vacations: tuple[DateRange, ...] | None = None

    @property
    def holidays(self) -> frozenset[date]:
        return frozenset().union(*(y.days_off() for y in self.years))

    @property
    def make_up_workdays(self) -> frozenset[date]:
        return frozenset().union(*(y.make_up_workdays for y in self.years))


class _Reader:
    """Checks one file's values, naming the key and the line of whatever is wrong."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self.lines = name, text.splitlines()

    def error(self, key: str, problem: str, near: object = None) -> CalendarError:
        where = ""
        if near is not None:
            found = [n for n, line in enumerate(self.lines, 1) if str(near) in line.split("#")[0]]
            where = f" (line {found[0]})" if len(found) == 1 else ""
        return CalendarError(f"{self.name}: {key}: {problem}{where}")

    def table(self, value: object, key: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        if unknown := sorted(set(value) - allowed):
            raise self.error(key, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}", unknown[0])
        if missing := sorted(required - set(value)):
            raise self.error(key, f"missing {missing}")
        return value

    def day(self, value: object, key: str) -> date:
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.error(key, f"{value!r} is not a date like 2026-10-01", value)

    def text(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be a non-empty text")
        return value.strip()

    def items(self, value: object, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        return value

    def span(self, name: str, first: date, last: date, key: str) -> DateRange:
        if last < first:
            raise self.error(key, f"ends {last} before it starts {first}", last)
        if (last - first).days >= _MAX_RANGE_DAYS:
            raise self.error(key, f"{first} to {last} is longer than a year", last)
        return DateRange(name, first, last)

    def holiday(self, value: object, key: str) -> DateRange:
        """A single date, or {name, from, to} (to: the last day, included; default: the same day)."""
        if not isinstance(value, dict):
            day = self.day(value, key)
            return DateRange("", day, day)
        item = self.table(value, key, {"name", "from", "to"}, {"from"})
        first = self.day(item["from"], f"{key}.from")
        last = self.day(item.get("to", first), f"{key}.to")
        return self.span(str(item.get("name", "")), first, last, key)

    def year(self, value: object, index: int) -> HolidayYear:
        item = self.table(
            value,
            f"years[{index}]",
            {"year", "source", "published", "holidays", "make_up_workdays"},
            {"year", "source"},
        )
        year = item["year"]
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            raise self.error(f"years[{index}].year", f"{year!r} is not a year like 2027")
        key = f"years[{year}]"
        holidays = tuple(
            self.holiday(h, f"{key}.holidays[{n}]")
            for n, h in enumerate(self.items(item.get("holidays", []), key))
        )
        make_up = [
            self.day(d, f"{key}.make_up_workdays[{n}]")
            for n, d in enumerate(self.items(item.get("make_up_workdays", []), f"{key}.make_up_workdays"))
        ]
        # A year's arrangement may reach into the next or last year (元旦 may start on 12-31).
        for day in [d for r in holidays for d in (r.first, r.last)] + make_up:
            if abs(day.year - year) > 1:
                raise self.error(key, f"{day} is too far from {year}: a typo?", day)
        both = sorted({d for r in holidays for d in r.days()} & set(make_up))
        if both:
            raise self.error(key, f"{both[0]} is both a holiday and a make-up working day", both[0])
        published = item.get("published")
        return HolidayYear(
            year=year,
            source=self.text(item["source"], f"{key}.source"),
            published=None if published is None else self.day(published, f"{key}.published"),
            holidays=holidays,
            make_up_workdays=frozenset(make_up),
        )

    def term(self, value: object, key: str) -> Term:
        item = self.table(value, key, {"name", "starts_on", "ends_on"}, {"name", "starts_on"})
        starts = self.day(item["starts_on"], f"{key}.starts_on")
        ends = None if item.get("ends_on") is None else self.day(item["ends_on"], f"{key}.ends_on")
        if ends is not None:
            self.span("", starts, ends, key)
        return Term(self.text(item["name"], f"{key}.name"), starts, ends)

    def vacation(self, value: object, key: str) -> DateRange:
        item = self.table(value, key, {"name", "from", "to"}, {"name", "from", "to"})
        first, last = self.day(item["from"], f"{key}.from"), self.day(item["to"], f"{key}.to")
        return self.span(self.text(item["name"], f"{key}.name"), first, last, key)


def read_terms(reader: _Reader, items: object, key: str) -> tuple[Term, ...]:
    terms = tuple(reader.term(t, f"{key}[{n}]") for n, t in enumerate(reader.items(items, key)))
    ordered = sorted(terms, key=lambda t: t.starts_on)
    for before, after in pairwise(ordered):
        if after.starts_on <= (before.ends_on or before.starts_on):
            raise reader.error(key, f"terms {before.name!r} and {after.name!r} overlap", after.starts_on)
    return terms


def read_calendar(path: Path) -> SchoolCalendar:
    """One calendar file, checked key by key."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalendarError(f"{path.name}: {exc}") from None
    reader = _Reader(path.name, text)
    reader.table(data, "(top level)", {"years", "terms", "vacations"}, set())
    years = tuple(reader.year(y, n) for n, y in enumerate(reader.items(data.get("years", []), "years")))
    seen: set[int] = set()
    for y in years:
        if y.year in seen:
            raise reader.error("years", f"{y.year} is listed twice", f"year = {y.year}")
        seen.add(y.year)
    terms = read_terms(reader, data["terms"], "terms") if "terms" in data else None
    vacations = None
    if "vacations" in data:
        items = reader.items(data["vacations"], "vacations")
        vacations = tuple(reader.vacation(v, f"vacations[{n}]") for n, v in enumerate(items))
    return SchoolCalendar(years, terms, vacations)


def policy_terms(items: object, source_name: str, text: str) -> tuple[Term, ...]:
    """[[term_start.terms]] of a policy file written before the calendar file existed."""
    return read_terms(_Reader(source_name, text), items, "term_start.terms")


def load_calendar(path: Path | None = None, fallback_terms: tuple[Term, ...] | None = None) -> SchoolCalendar:
    """The shipped calendar extended by the county's file: its years replace the shipped ones of the same
    year, its terms and vacations (if listed) replace the shipped ones. `fallback_terms` (an older policy
    file's) stand in for the shipped example terms when the county's calendar lists none."""
    shipped = read_calendar(DEFAULT_CALENDAR)
    county = read_calendar(path) if path is not None else SchoolCalendar()
    replaced = {y.year for y in county.years}
    years = tuple(
        sorted(
            [y for y in shipped.years if y.year not in replaced] + list(county.years), key=lambda y: y.year
        )
    )
    terms = (
        county.terms
        if county.terms is not None
        else fallback_terms
        if fallback_terms is not None
        else shipped.terms
    )
    vacations = county.vacations if county.vacations is not None else shipped.vacations
    merged = SchoolCalendar(years, terms or (), vacations or ())
    if both := sorted(merged.holidays & merged.make_up_workdays):
        raise CalendarError(
            f"{both[0]} is both a holiday and a make-up working day (in different years' entries)"
        )
    return merged
