"""Where each child lands, and why: the rules of the cross-check proposal.

Order matters: anything contradictory goes to a person first; then a child on a school roll is in school
(present or absent, whatever their age); only a child on no roll is judged by age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.crosscheck.match import Person

# Compulsory-education age: 6 to 15 full years (“6至15周岁”, 001_66f255ef30f14f7a.txt; “年满6周岁及以上”,
# 004_4b017d4e2bf19d2a.txt). The age is taken on the day before the school year starts; the seeds give
# no date, 31 August is the common practice (the autumn term starts in September) and a CLI option.
MIN_AGE, MAX_AGE = 6, 15
CUTOFF_MONTH, CUTOFF_DAY = 8, 31

BUCKETS = ("present", "absent", "out_of_school", "elsewhere", "out_of_range", "to_resolve")
ENROLLED = frozenset({"在读", "在籍", "在校", "正常", "enrolled", "active"})
DROPPED = frozenset({"辍学", "失学", "dropped_out", "dropout"})


@dataclass(frozen=True)
class AgeRule:
    min_age: int = MIN_AGE
    max_age: int = MAX_AGE
    cutoff: date = date(2026, CUTOFF_MONTH, CUTOFF_DAY)

    @classmethod
    def for_day(cls, today: date) -> AgeRule:
        """The rule for the school year running on `today`; from July on, the year about to start (the
        summer canvass counts the coming entrants)."""
        year = today.year if today.month >= 7 else today.year - 1
        return cls(cutoff=date(year, CUTOFF_MONTH, CUTOFF_DAY))

    def age(self, birth: date) -> int:
        on = self.cutoff
        return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Verdict:
    bucket: str
    reason: str  # a catalog key under crosscheck.reason.
    params: dict[str, str] = field(default_factory=dict)


def _enrolled(status: str | None) -> bool:
    return status is None or status.strip().lower() in ENROLLED


def classify(person: Person, ages: AgeRule, roster_schools: frozenset[str]) -> Verdict:
    """The bucket and reason of one child. `roster_schools`: codes and names of the schools whose pupils
    the product holds (a record at one of them should have a roster pupil)."""
    if person.conflicts:
        return Verdict("to_resolve", person.conflicts[0])
    record = person.registry[0] if person.registry else None
    pupil = person.pupils[0] if person.pupils else None
    if pupil is not None and pupil.absent:
        return Verdict(
            "absent", "registered_absent", {"school": pupil.school_name, "case": pupil.case_number or ""}
        )
    if record is not None:
        status = (record.status or "").strip()
        if status.lower() in DROPPED:
            return Verdict("absent", "record_dropped", {"school": record.school or "", "status": status})
        if not _enrolled(record.status):
            return Verdict("to_resolve", "record_status", {"status": status})
        if pupil is not None:
            return Verdict("present", "present", {"school": pupil.school_name})
        if record.school in roster_schools:
            return Verdict("to_resolve", "not_on_roster", {"school": record.school or ""})
        return Verdict(
            "elsewhere", "enrolled_elsewhere", {"school": record.school or "", "number": record.number or ""}
        )
    if pupil is not None:
        return Verdict("to_resolve", "unregistered", {"school": pupil.school_name})
    first = person.first()
    birth = first.birth_date if first else None
    if birth is None:
        return Verdict("to_resolve", "no_birth_date")
    age = ages.age(birth)
    if not ages.min_age <= age <= ages.max_age:
        return Verdict("out_of_range", "out_of_range", {"age": str(age)})
    source = "population" if person.population else "disabled" if person.disabled else "poverty"
    return Verdict("out_of_school", f"no_record_{source}", {"age": str(age)})
