"""适龄儿童台账 (DOMAIN.md §2; one of the three county ledgers of 003_ee1c82519c64281c.txt): the status of
each school-age child of a county's latest saved cross-check, and the two rates computed from it.

`child_status` is the one place that says what a child's status is; extend it (and CLEARED_CODES) here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from domain.casework.cases import REASON_SCHEME, VERIFICATION_SCHEME
from domain.casework.lifecycle import DROPOUT_LEDGER, SUSPECTED_LEDGER, CaseStatus
from domain.reports.stats import retention_rate
from storage.school_age import StatusInputs


class ChildStatus(StrEnum):
    IN_SCHOOL = "in_school"  # 在校 (on our roll, or back in school)
    ELSEWHERE = "elsewhere"  # 县内他校就读 (enrolled at a county school outside the product)
    HOME_TEACHING = "home_teaching"  # 送教上门
    SUSPECTED = "suspected"  # 疑似辍学
    DROPPED_OUT = "dropped_out"  # 辍学
    OUT_OF_SCHOOL_SUSPECTED = "out_of_school_suspected"  # 疑似失学 (on no roll, not yet confirmed)
    OUT_OF_SCHOOL = "out_of_school"  # 失学 (never enrolled, confirmed)
    DEFERRED = "deferred"  # 缓学 (approved deferral, code E)
    MOVED_AWAY = "moved_away"  # 外出 (schooling outside the province or abroad: codes C, D, H)
    CLEARED = "cleared"  # 核减 for another reason (registration error, over age: codes A, F)
    TO_VERIFY = "to_verify"  # 待核实 (the cross-check could not tell; a person decides)


C = ChildStatus
STATUSES = tuple(ChildStatus)

# A cleared (核减) case says where the child is by its official code (DOMAIN.md §4, the `codes` rows of
# migration 0002). C (省内就读无学籍), D (省外就读无学籍) and H (出国在外) count as moved away, as issue 16
# asks; a county that counts C as enrolled changes its line here.
CLEARED_CODES: dict[tuple[str, str], ChildStatus] = {
    (VERIFICATION_SCHEME, "A"): C.CLEARED,
    (VERIFICATION_SCHEME, "B"): C.IN_SCHOOL,
    (VERIFICATION_SCHEME, "C"): C.MOVED_AWAY,
    (VERIFICATION_SCHEME, "D"): C.MOVED_AWAY,
    (VERIFICATION_SCHEME, "E"): C.DEFERRED,
    (VERIFICATION_SCHEME, "F"): C.CLEARED,
    (VERIFICATION_SCHEME, "H"): C.MOVED_AWAY,
    (REASON_SCHEME, "B2"): C.IN_SCHOOL,
}
# A child without a case is what the cross-check found.
BY_BUCKET: dict[str, ChildStatus] = {
    "present": C.IN_SCHOOL,
    "absent": C.SUSPECTED,  # the record says 辍学, nobody has verified it yet
    "elsewhere": C.ELSEWHERE,
    "out_of_school": C.OUT_OF_SCHOOL_SUSPECTED,
    "to_resolve": C.TO_VERIFY,
}


def child_status(inputs: StatusInputs) -> ChildStatus:
    """The status of one child in the ledger, from the cross-check's bucket, the case that speaks for the
    child now (the case's current state outranks the bucket) and an active 送教上门 plan (first: a
    severely disabled child taught at home is enrolled). A child on no roll (bucket out_of_school) whose
    case is confirmed is 失学, never enrolled, rather than 辍学."""
    if inputs.home_teaching:
        return C.HOME_TEACHING
    never_enrolled = inputs.bucket == "out_of_school"
    status = inputs.case_status
    if status is None:
        return BY_BUCKET.get(inputs.bucket, C.TO_VERIFY)
    if status in SUSPECTED_LEDGER or (never_enrolled and status == CaseStatus.ABSENT):
        return C.OUT_OF_SCHOOL_SUSPECTED if never_enrolled else C.SUSPECTED
    if status in DROPOUT_LEDGER:
        return C.OUT_OF_SCHOOL if never_enrolled else C.DROPPED_OUT
    if status in (CaseStatus.CLEARED, CaseStatus.CLOSED):
        coded = CLEARED_CODES.get((inputs.case_scheme or "", inputs.case_code or ""))
        # A deferral lasts while its case is open; a closed one ended with the child in school.
        if coded is not None and not (coded is C.DEFERRED and status == CaseStatus.CLOSED):
            return coded
        if status == CaseStatus.CLEARED:
            return C.CLEARED
    # Back in school, retained, closed; or a plain absence, which is not a suspected dropout until
    # verified (domain.casework.lifecycle.SUSPECTED_LEDGER): on the roll.
    return C.ELSEWHERE if inputs.bucket == "elsewhere" else C.IN_SCHOOL


# 入学率: enrolled children (in any school: ours, another county school, or taught at home) of the children
# the county is expected to enrol: the ledger's school-age children without those legitimately outside
# it (approved deferral, moved away, cleared as a registration error or over age).
ENROLLED = frozenset({C.IN_SCHOOL, C.ELSEWHERE, C.HOME_TEACHING})
NOT_EXPECTED = frozenset({C.DEFERRED, C.MOVED_AWAY, C.CLEARED})
# 巩固率 (ledger-based): of the children ever enrolled (on a roll: enrolled, suspected or dropped out; a
# child never enrolled, 失学, is not in it), the share not dropped out. The official 九年义务教育巩固率 is
# cohort-based (初中毕业班学生数 / 该年级入学时学生数); a ledger has no cohorts, so this is its equivalent.
ON_ROLL = ENROLLED | {C.SUSPECTED, C.DROPPED_OUT}


@dataclass
class Tally:
    """Children per status in one area, and the two rates."""

    by_status: Counter[ChildStatus] = field(default_factory=Counter)

    def add(self, status: ChildStatus, children: int = 1) -> None:
        self.by_status[status] += children

    def merge(self, others: Iterable[Tally]) -> Tally:
        for other in others:
            self.by_status.update(other.by_status)
        return self

    def count(self, statuses: Iterable[ChildStatus]) -> int:
        return sum(self.by_status[s] for s in statuses)

    @property
    def children(self) -> int:
        return sum(self.by_status.values())

    @property
    def expected(self) -> int:
        return self.children - self.count(NOT_EXPECTED)

    @property
    def enrolled(self) -> int:
        return self.count(ENROLLED)

    @property
    def on_roll(self) -> int:
        return self.count(ON_ROLL)

    @property
    def enrolment_rate(self) -> float | None:
        """入学率 (see ENROLLED); None when no child is expected."""
        return self.enrolled / self.expected if self.expected > 0 else None

    @property
    def retention_rate(self) -> float | None:
        """巩固率, ledger-based (see ON_ROLL); the same formula as the roll-based figure of domain.reports.stats."""
        return retention_rate(self.on_roll, self.by_status[C.DROPPED_OUT])


def percent(rate: float | None) -> str:
    """A rate as the ledgers and the overview print it: 96.55%, or — when there is none."""
    return "—" if rate is None else f"{rate * 100:.2f}%"
