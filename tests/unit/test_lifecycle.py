"""Every legal and every illegal case status transition."""

from __future__ import annotations

import itertools

import pytest

from domain.casework.lifecycle import TRANSITIONS, CaseStatus, can_transition, check_transition
from domain.errors import InvalidTransition

S = CaseStatus
LEGAL = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
ILLEGAL = sorted((a, b) for a, b in itertools.product(CaseStatus, CaseStatus) if b not in TRANSITIONS[a])


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_transition_is_accepted(current: CaseStatus, target: CaseStatus) -> None:
    assert check_transition(current, target) is target
    assert can_transition(current.value, target.value)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_transition_raises(current: CaseStatus, target: CaseStatus) -> None:
    with pytest.raises(InvalidTransition) as err:
        check_transition(current, target)
    assert (err.value.current, err.value.target) == (current.value, target.value)


def test_child_can_return_from_every_open_stage_before_return() -> None:
    for status in (
        S.ABSENT,
        S.SUSPECTED,
        S.VERIFYING,
        S.MISSING,
        S.DROPPED_OUT,
        S.PERSUADING,
        S.NOTICE_ISSUED,
        S.ESCALATED,
    ):
        assert can_transition(status, S.RETURNED)


def test_a_case_closes_only_after_retention_or_clearance() -> None:
    assert {s for s in CaseStatus if can_transition(s, S.CLOSED)} == {S.RETENTION, S.CLEARED}


def test_relapse_reopens_from_retention_and_closed() -> None:
    assert can_transition(S.RETENTION, S.ABSENT)
    assert can_transition(S.CLOSED, S.ABSENT)


def test_no_status_moves_to_itself() -> None:
    assert all(s not in TRANSITIONS[s] for s in CaseStatus)


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(ValueError):
        check_transition("absent", "vanished")
