"""The case lifecycle of DOMAIN.md §3 as a table, and the one function that applies it."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import InvalidTransition


class CaseStatus(StrEnum):
    ABSENT = "absent"  # 缺勤
    SUSPECTED = "suspected"  # 疑似辍学
    VERIFYING = "verifying"  # 核查
    CLEARED = "cleared"  # 核减
    MISSING = "missing"  # 失踪失联
    DROPPED_OUT = "dropped_out"  # 辍学
    PERSUADING = "persuading"  # 劝返
    NOTICE_ISSUED = "notice_issued"  # 劝返复学通知书已送达
    ESCALATED = "escalated"  # 上报
    RETURNED = "returned"  # 复学
    RETENTION = "retention"  # 保学跟踪
    CLOSED = "closed"  # 销号


S = CaseStatus
# Statuses from which the child can come back to school ("child returns (at any stage)").
_RETURNABLE = {
    S.ABSENT,
    S.SUSPECTED,
    S.VERIFYING,
    S.MISSING,
    S.DROPPED_OUT,
    S.PERSUADING,
    S.NOTICE_ISSUED,
    S.ESCALATED,
}

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.ABSENT: frozenset({S.SUSPECTED, S.VERIFYING, S.CLEARED, S.RETURNED}),
    S.SUSPECTED: frozenset({S.VERIFYING, S.CLEARED, S.MISSING, S.DROPPED_OUT, S.RETURNED}),
    S.VERIFYING: frozenset({S.CLEARED, S.MISSING, S.DROPPED_OUT, S.RETURNED}),
    S.CLEARED: frozenset({S.CLOSED, S.VERIFYING}),
    # Missing children stay open under police follow-up and are re-checked periodically.
    S.MISSING: frozenset({S.VERIFYING, S.CLEARED, S.DROPPED_OUT, S.RETURNED}),
    # A confirmed dropout may still turn out to have a legitimate status (enrolled elsewhere, abroad,
    # deceased: cleared) or the family may vanish (missing), at any point of the persuasion.
    S.DROPPED_OUT: frozenset({S.PERSUADING, S.NOTICE_ISSUED, S.ESCALATED, S.CLEARED, S.MISSING, S.RETURNED}),
    S.PERSUADING: frozenset({S.NOTICE_ISSUED, S.ESCALATED, S.CLEARED, S.MISSING, S.RETURNED}),
    S.NOTICE_ISSUED: frozenset({S.PERSUADING, S.ESCALATED, S.CLEARED, S.MISSING, S.RETURNED}),
    S.ESCALATED: frozenset({S.PERSUADING, S.NOTICE_ISSUED, S.CLEARED, S.MISSING, S.RETURNED}),
    S.RETURNED: frozenset({S.RETENTION}),
    # A relapse during retention sends the case back to the start of the lifecycle.
    S.RETENTION: frozenset({S.CLOSED, S.ABSENT}),
    # A closed case is reopened (relapse) rather than a second case being created beside it.
    S.CLOSED: frozenset({S.ABSENT}),
}
assert all(s in TRANSITIONS for s in CaseStatus), "every status needs a row"
assert all(S.RETURNED in TRANSITIONS[s] for s in _RETURNABLE)

OPEN_STATUSES = frozenset(set(CaseStatus) - {S.CLOSED})
# Open cases that must always have an owner and a next dated step (domain.casework.invariant): a cleared case
# (核减) has a legitimate status and is only tracked when deferred.
TIMED_STATUSES = frozenset(OPEN_STATUSES - {S.CLEARED})
# Statuses that count as "in the suspected-dropout ledger" / "in the dropout ledger". A plain absence
# is not a suspected dropout until verified as unexplained (DOMAIN.md §3).
SUSPECTED_LEDGER = frozenset({S.SUSPECTED, S.VERIFYING, S.MISSING})
DROPOUT_LEDGER = frozenset({S.DROPPED_OUT, S.PERSUADING, S.NOTICE_ISSUED, S.ESCALATED})
# Statuses in which persuasion visits make sense.
VISITABLE = frozenset(_RETURNABLE)


def can_transition(current: CaseStatus | str, target: CaseStatus | str) -> bool:
    """True when the lifecycle allows moving from `current` to `target`."""
    return CaseStatus(target) in TRANSITIONS[CaseStatus(current)]


def check_transition(current: CaseStatus | str, target: CaseStatus | str) -> CaseStatus:
    """Returns the target status, or raises InvalidTransition; never silently accepts."""
    cur, tgt = CaseStatus(current), CaseStatus(target)
    if tgt not in TRANSITIONS[cur]:
        raise InvalidTransition(cur.value, tgt.value)
    return tgt


def path_to(current: CaseStatus | str, target: CaseStatus | str) -> list[CaseStatus]:
    """The moves from `current` to `target`: direct, or through verification (an absence is verified
    before it is cleared, found missing or confirmed a dropout). Raises InvalidTransition otherwise."""
    cur, tgt = CaseStatus(current), CaseStatus(target)
    if tgt in TRANSITIONS[cur]:
        return [tgt]
    if S.VERIFYING in TRANSITIONS[cur] and tgt in TRANSITIONS[S.VERIFYING]:
        return [S.VERIFYING, tgt]
    raise InvalidTransition(cur.value, tgt.value)
