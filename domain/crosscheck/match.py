"""Joining the lists into children: by ID number first, then by name and birth date.

Confidence of a join between the household list and the student records (shown in the proposal):
ID number 1.0; the same written name and birth date 0.9; the same name once traditional characters are
simplified (陳 = 陈) and birth date 0.85; the same pinyin and birth date 0.7. Joins below ACCEPT are
never made: the child is proposed for a person to resolve, with the candidates named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from domain.crosscheck.files import ChildRow
from domain.crosscheck.names import pinyin, simplified, written
from storage.crosscheck_queries import RosterPupil

ACCEPT = 0.8
METHODS = {"id": 1.0, "name_birth": 0.9, "variant_birth": 0.85, "pinyin_birth": 0.7}


@dataclass(slots=True)
class Person:
    """One child as the lists see them; every list row and roster pupil ends in exactly one person."""

    population: list[ChildRow] = field(default_factory=list)
    registry: list[ChildRow] = field(default_factory=list)
    pupils: list[RosterPupil] = field(default_factory=list)
    poverty_rows: list[ChildRow] = field(default_factory=list)  # 建档立卡/防返贫监测
    disabled: ChildRow | None = None  # 残联
    method: str = ""  # how the household row and the student record were joined (METHODS), "" if not
    conflicts: list[str] = field(default_factory=list)  # codes, reasons for a person to resolve
    candidates: list[ChildRow] = field(default_factory=list)  # records it may be, not joined

    @property
    def poverty(self) -> bool:
        return bool(self.poverty_rows)

    @property
    def confidence(self) -> float:
        return METHODS.get(self.method, 0.0)

    def rows(self) -> Iterable[ChildRow]:
        yield from self.population
        yield from self.registry
        yield from self.poverty_rows
        if self.disabled is not None:
            yield self.disabled

    def national_ids(self) -> set[str]:
        ids = {r.national_id for r in self.rows() if r.national_id}
        return ids | {p.national_id for p in self.pupils if p.national_id}

    def first(self) -> ChildRow | None:
        return next(iter(self.rows()), None)

    def note(self, code: str) -> None:
        if code not in self.conflicts:
            self.conflicts.append(code)


def _by_id(rows: Iterable[ChildRow]) -> tuple[dict[str, list[ChildRow]], list[ChildRow]]:
    grouped: dict[str, list[ChildRow]] = defaultdict(list)
    without: list[ChildRow] = []
    for row in rows:
        if row.national_id:
            grouped[row.national_id].append(row)
        else:
            without.append(row)
    return grouped, without


def _groups(rows: Iterable[ChildRow]) -> list[list[ChildRow]]:
    grouped, without = _by_id(rows)
    return [*grouped.values(), *([r] for r in without)]


NameKey = Callable[[str], str]
PASSES: tuple[tuple[str, NameKey], ...] = (
    ("name_birth", written),
    ("variant_birth", simplified),
    ("pinyin_birth", pinyin),
)


def _join_by_name(people: list[Person], open_records: dict[int, Person]) -> None:
    """Household rows still without a record, against records still without a household row."""
    waiting = [p for p in people if p.population and not p.registry]
    for method, key in PASSES:
        if not waiting or not open_records:
            return
        index: dict[tuple[str, date], list[int]] = defaultdict(list)
        for pid, rec in open_records.items():
            row = rec.registry[0]
            if row.name and row.birth_date:
                index[(key(row.name), row.birth_date)].append(pid)
        still: list[Person] = []
        for person in waiting:
            row = person.population[0]
            found = (
                [i for i in index.get((key(row.name), row.birth_date), ()) if i in open_records]
                if row.name and row.birth_date
                else []
            )
            if not found:
                still.append(person)
            elif len(found) > 1 or METHODS[method] < ACCEPT:
                person.candidates = [r for i in found for r in open_records[i].registry]
                person.note("ambiguous" if len(found) > 1 else "low_confidence")
            else:
                record = open_records.pop(found[0])
                person.registry, person.method = record.registry, method
                record.registry = []
                if row.national_id and any(
                    r.national_id and r.national_id != row.national_id for r in person.registry
                ):
                    person.note("id_mismatch")
        waiting = still


def match(
    population: Iterable[ChildRow],
    registry: Iterable[ChildRow],
    pupils: Iterable[RosterPupil],
    poverty: Iterable[ChildRow] = (),
    disabled: Iterable[ChildRow] = (),
) -> list[Person]:
    """Every child the lists name, joined across the lists."""
    people: list[Person] = []
    by_id: dict[str, Person] = {}
    for rows in _groups(population):
        person = Person(population=rows)
        if len(rows) > 1:
            person.note("duplicate_registration")
        people.append(person)
        if rows[0].national_id:
            by_id[rows[0].national_id] = person
    records: list[Person] = []
    for rows in _groups(registry):
        owner = by_id.get(rows[0].national_id or "")
        if owner is not None:
            owner.registry, owner.method = rows, "id"
        else:
            records.append(Person(registry=rows))
    open_records = dict(enumerate(records))
    _join_by_name(people, open_records)
    for record in records:
        if record.registry:
            people.append(record)
            if record.registry[0].national_id:
                by_id[record.registry[0].national_id] = record
    by_number = {r.number: p for p in people for r in p.registry if r.number}
    for person in people:  # records joined by name bring their own ID numbers
        for national_id in person.national_ids():
            by_id.setdefault(national_id, person)
    for person in people:
        if len({r.school for r in person.registry}) > 1 or len({r.number for r in person.registry}) > 1:
            person.note("two_schools")
        for row in person.rows():
            for code in row.notes:
                person.note(code)
    for pupil in pupils:
        owner = by_number.get(pupil.number) or by_id.get(pupil.national_id or "")
        if owner is None:
            owner = Person()
            people.append(owner)
            if pupil.national_id:
                by_id[pupil.national_id] = owner
        elif owner.pupils:
            owner.note("two_roster_pupils")
        owner.pupils.append(pupil)
        if pupil.national_id and any(
            r.national_id and r.national_id != pupil.national_id for r in owner.rows()
        ):
            owner.note("id_mismatch")
    # The third cross-match: children of the poverty and disability lists (a child only they name is
    # still a school-age child to account for).
    for listed, disability in ((poverty, False), (disabled, True)):
        for row in listed:
            owner = by_id.get(row.national_id or "")
            if owner is None:
                owner = Person()
                people.append(owner)
                if row.national_id:
                    by_id[row.national_id] = owner
            if disability:
                owner.disabled = row
            else:
                owner.poverty_rows.append(row)
            for code in row.notes:
                owner.note(code)
    return people
