"""What the case page offers a coordinator: the decisions that fit the case's status and stage and the
person's role, and what each asks for. `domain.casework.decisions.decide` still has the last word."""

from __future__ import annotations

from domain.casework.cases import REASON_SCHEME, VERIFICATION_SCHEME
from domain.casework.decisions import allowed_decisions
from domain.casework.lifecycle import CaseStatus
from storage.models import Case, Staff

S = CaseStatus

# Which decisions make sense in which status (what the case page offers); `decide` has the last word.
_OFFERED: dict[CaseStatus, tuple[str, ...]] = {
    S.ABSENT: ("classify", "clear", "mark_missing", "defer"),
    S.SUSPECTED: ("classify", "clear", "mark_missing", "defer"),
    S.VERIFYING: ("classify", "clear", "mark_missing", "defer", "recheck"),
    S.MISSING: ("recheck", "classify", "clear", "defer"),
    S.DROPPED_OUT: ("escalate", "classify", "clear", "mark_missing", "defer"),
    S.PERSUADING: ("escalate", "classify", "clear", "mark_missing", "defer"),
    S.NOTICE_ISSUED: ("escalate", "classify", "clear", "mark_missing", "defer"),
    S.ESCALATED: (
        "escalate",
        "order_compliance",
        "refer_legal",
        "recheck",
        "classify",
        "clear",
        "mark_missing",
    ),
    S.RETURNED: (),
    S.RETENTION: ("approve_closing", "return_for_rework", "propose_closing"),
    S.CLEARED: ("approve_closing", "reopen"),
    S.CLOSED: ("reopen",),
}
# What each decision asks for: a code (from which schemes), a note (its label), a date (its label).
FIELDS: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "classify": ((REASON_SCHEME, VERIFICATION_SCHEME), "note", None),
    "clear": ((REASON_SCHEME, VERIFICATION_SCHEME), "proof", None),
    "mark_missing": ((), "police_report", None),
    "recheck": ((), "note", None),
    "escalate": ((), "note", None),
    "order_compliance": ((), "note", "order_due"),
    "refer_legal": ((), "note", None),
    "defer": ((), "approved_by", "deferred_until"),
    "propose_closing": ((), "note", None),
    "approve_closing": ((), "note", None),
    "return_for_rework": ((), "note", None),
    "reopen": ((), "note", None),
}


# Decisions that fit only one stage of their status, named by the case's next step.
_WHEN_NEXT: dict[str, frozenset[str | None]] = {
    "order_compliance": frozenset({"order", "compliance_check"}),
    "refer_legal": frozenset({"compliance_check"}),
    "approve_closing": frozenset({"approve_closing", None}),  # None: a cleared case, closed at once
    "return_for_rework": frozenset({"approve_closing"}),
    "propose_closing": frozenset({"propose_closing"}),
}
_RECHECKED_STEPS = frozenset({"missing_recheck", "recheck_visit", "legal_follow_up"})


def offered_decisions(case: Case, staff: Staff) -> list[str]:
    """The decisions the case page offers this person for this case: their role's, fitting its status
    and the stage it is at (a report only before it is made, a re-check only when one is due, …)."""
    mine = set(allowed_decisions(staff))
    offered = []
    for name in _OFFERED[CaseStatus(case.status)]:
        if name not in mine or (name in _WHEN_NEXT and case.next_step not in _WHEN_NEXT[name]):
            continue
        if name == "recheck" and case.next_step not in _RECHECKED_STEPS:
            continue
        if name == "escalate" and case.status == S.ESCALATED and case.next_step != "report":
            continue
        offered.append(name)
    return offered
