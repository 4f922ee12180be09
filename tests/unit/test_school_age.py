"""The status of a child in the 适龄儿童台账 and the two rates, as pure rules."""

from __future__ import annotations

import pytest

from domain.school_age.status import ChildStatus as C
from domain.school_age.status import Tally, child_status, percent
from storage.school_age import StatusInputs

V = "verification_2019"


def status(
    bucket: str, case: str | None = None, code: tuple[str, str] | None = None, home: bool = False
) -> C:
    scheme, value = code or (None, None)
    return child_status(StatusInputs(bucket, case, scheme, value, home))


@pytest.mark.parametrize(
    ("bucket", "case", "code", "expected"),
    [
        ("present", None, None, C.IN_SCHOOL),
        ("absent", None, None, C.SUSPECTED),  # the record says 辍学, not verified yet
        ("elsewhere", None, None, C.ELSEWHERE),
        ("out_of_school", None, None, C.OUT_OF_SCHOOL_SUSPECTED),
        ("to_resolve", None, None, C.TO_VERIFY),
        ("absent", "absent", None, C.IN_SCHOOL),  # a plain absence is not a suspected dropout
        ("absent", "verifying", None, C.SUSPECTED),
        ("absent", "missing", (V, "G"), C.SUSPECTED),
        ("absent", "persuading", ("record_system", "A2"), C.DROPPED_OUT),
        ("absent", "escalated", None, C.DROPPED_OUT),
        ("present", "retention", ("record_system", "A2"), C.IN_SCHOOL),
        ("present", "closed", None, C.IN_SCHOOL),
        ("elsewhere", "closed", None, C.ELSEWHERE),
        ("absent", "cleared", (V, "E"), C.DEFERRED),
        ("present", "closed", (V, "E"), C.IN_SCHOOL),  # the deferral ended
        ("absent", "cleared", (V, "C"), C.MOVED_AWAY),
        ("absent", "cleared", (V, "D"), C.MOVED_AWAY),
        ("absent", "closed", (V, "H"), C.MOVED_AWAY),
        ("absent", "cleared", (V, "A"), C.CLEARED),
        ("absent", "cleared", (V, "F"), C.CLEARED),
        ("absent", "cleared", (V, "B"), C.IN_SCHOOL),
        ("absent", "cleared", ("county", "X9"), C.CLEARED),  # a county's own clearing code
        ("out_of_school", "absent", None, C.OUT_OF_SCHOOL_SUSPECTED),
        ("out_of_school", "suspected", None, C.OUT_OF_SCHOOL_SUSPECTED),
        ("out_of_school", "dropped_out", None, C.OUT_OF_SCHOOL),  # confirmed: never enrolled, 失学
        ("out_of_school", "returned", None, C.IN_SCHOOL),
    ],
)
def test_a_childs_status_follows_the_bucket_then_the_current_case(
    bucket: str, case: str | None, code: tuple[str, str] | None, expected: C
) -> None:
    assert status(bucket, case, code) == expected


def test_an_active_home_teaching_plan_counts_as_enrolled() -> None:
    assert status("present", home=True) == C.HOME_TEACHING
    assert status("absent", "verifying", (V, "I"), home=True) == C.HOME_TEACHING


def test_rates_leave_out_whom_the_county_need_not_enrol() -> None:
    tally = Tally()
    for s, n in [(C.IN_SCHOOL, 90), (C.ELSEWHERE, 4), (C.HOME_TEACHING, 1), (C.SUSPECTED, 2)]:
        tally.add(s, n)
    for s, n in [
        (C.DROPPED_OUT, 3),
        (C.OUT_OF_SCHOOL, 1),
        (C.DEFERRED, 2),
        (C.MOVED_AWAY, 5),
        (C.TO_VERIFY, 1),
    ]:
        tally.add(s, n)
    assert tally.children == 109
    assert (tally.enrolled, tally.expected) == (95, 102)  # 109 − 2 deferred − 5 moved away
    assert percent(tally.enrolment_rate) == "93.14%"
    assert tally.on_roll == 100  # 95 enrolled + 2 suspected + 3 dropped out; 失学 never was on a roll
    assert percent(tally.retention_rate) == "97.00%"


def test_no_children_no_rates() -> None:
    assert Tally().enrolment_rate is None and Tally().retention_rate is None
    assert percent(None) == "—"
