"""Coordinators' decisions on a case (DOMAIN.md §3): classify, clear (核减), mark missing (失踪失联),
re-check, report upwards (上报), order compliance (责令限期改正), refer to the justice route, defer (缓学),
propose / approve / send back a closing (销号), reopen.

Each is one use case in the caller's transaction: scoped (NotInScope outside the person's area),
allowed only to the roles that own it (NotAllowed), refused with a reason when the case's state does not
allow it (DecisionRefused), recorded on the case timeline and in the audit log, and followed by the case's
next step being planned. Official codes are those of DOMAIN.md §4, as the `codes` table holds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import REASON_SCHEME, VERIFICATION_SCHEME, add_event, case_in_scope, change_status
from domain.casework.lifecycle import DROPOUT_LEDGER, CaseStatus, path_to
from domain.casework.steps import RECHECKED_CODES
from domain.errors import DomainError, InvalidInput, InvalidTransition
from domain.people.roles import COORDINATOR_ROLES, TEACHER_ROLES, Role
from domain.policy import Policy
from domain.privacy.pii_text import refuse_identifiers
from domain.reminders.facts import case_facts
from domain.reminders.planning import plan_case_reminders
from storage.models import Case, CaseEvent, Code, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork

S = CaseStatus
MAX_NOTE = 500
MAX_ORDER = timedelta(days=90)  # an order to comply gives days or weeks, not months
MAX_DEFERRAL = timedelta(days=3 * 366)
# Statutory orders come from the township government or the county bureau (义务教育法 Art. 58, DOMAIN.md §2).
ORDER_ROLES = frozenset({Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER, Role.ADMIN})
DECISIONS: dict[str, frozenset[Role]] = {
    "classify": COORDINATOR_ROLES,
    "clear": COORDINATOR_ROLES,
    "mark_missing": COORDINATOR_ROLES,
    "recheck": COORDINATOR_ROLES,
    "escalate": COORDINATOR_ROLES,
    "order_compliance": ORDER_ROLES,
    "refer_legal": ORDER_ROLES,
    "defer": COORDINATOR_ROLES,
    "propose_closing": COORDINATOR_ROLES | TEACHER_ROLES,
    "approve_closing": COORDINATOR_ROLES,
    "return_for_rework": COORDINATOR_ROLES,
    "reopen": COORDINATOR_ROLES,
}
# Where a report (上报) goes: 004_4b017d4e2bf19d2a.txt, 学校要及时书面报告县级教育主管部门和乡镇政府.
REPORTED_TO = ("county_education_bureau", "township_government")


@dataclass(frozen=True)
class Decision:
    """What the coordinator decided; `code` as DOMAIN.md §4 writes it (B, G, A2), `due` a date."""

    decision: str
    code: str | None = None
    note: str | None = None
    due: date | None = None


class DecisionRefused(DomainError):
    """The case's state does not allow the decision now; `reason` names the catalog text."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason, self.params = reason, params


class NotAllowed(DomainError):
    """The person's role does not make this decision (e.g. a principal ordering compliance)."""


@dataclass
class _Ctx:
    uow: UnitOfWork
    case: Case
    actor: Actor
    decision: Decision
    now: datetime
    policy: Policy
    tz: ZoneInfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def note(self, required: bool, field: str = "note") -> str | None:
        text = (self.decision.note or "").strip()
        if len(text) > MAX_NOTE:
            raise InvalidInput("note_too_long", max=MAX_NOTE)
        if required and not text:
            raise InvalidInput(f"{field}_required")
        refuse_identifiers(text)
        return text or None

    def refuse(self, reason: str = "not_in_state") -> DecisionRefused:
        return DecisionRefused(reason, status=self.case.status, decision=self.decision.decision)

    async def move(self, target: CaseStatus, kind: str, **data: Any) -> CaseEvent:
        """Moves the case to `target` (through verification when that is the way); the last move's
        event is the decision's, of kind `kind`."""
        try:
            path = path_to(self.case.status, target)
        except InvalidTransition:
            raise self.refuse() from None
        event = None
        for index, status in enumerate(path):
            last = index == len(path) - 1
            event = await change_status(
                self.uow,
                self.case,
                status,
                self.actor,
                now=self.now,
                kind=kind if last else "status_changed",
                **(data if last else {}),
            )
        assert event is not None
        return event

    def event(self, kind: str, **data: Any) -> CaseEvent:
        self.case.updated_at = self.now
        return add_event(self.uow, self.case, kind, self.actor, self.now, **data)

    def set_category(self, code: Code) -> None:
        self.case.category_scheme, self.case.category_code = code.scheme, code.code

    def end_deadlines(self) -> None:
        """A cleared or closed case has no absence deadlines left."""
        self.case.visit_due_at = self.case.verification_due_at = self.case.return_due_at = None


async def official_code(uow: UnitOfWork, code: str | None) -> Code:
    """The code row for `code` as DOMAIN.md §4 writes it: A2–A8/B2 are record-system codes, single letters
    verification codes. Raises InvalidInput for anything else."""
    text = (code or "").strip().upper()
    if not text:
        raise InvalidInput("code_required")
    for scheme in (REASON_SCHEME, VERIFICATION_SCHEME):
        row = await uow.codes.get(scheme, text)
        if row is not None and row.active:
            return row
    raise InvalidInput("unknown_code", value=text[:10])


async def _classify(c: _Ctx) -> CaseEvent:
    code = await official_code(c.uow, c.decision.code)
    if code.scheme == VERIFICATION_SCHEME and code.code == "E":
        return await _defer(c)
    if code.scheme == VERIFICATION_SCHEME and code.code == "G":
        return await _mark_missing(c)
    if code.clears_case:
        return await _clear(c, code)
    note = c.note(required=False)
    before = {"scheme": c.case.category_scheme, "code": c.case.category_code}
    data = {"code": code.code, "before": before, "note": note}
    if code.scheme == REASON_SCHEME:  # a confirmed dropout, with its reason (A2–A8)
        c.set_category(code)
        if c.case.status in DROPOUT_LEDGER:
            return c.event("classified", **data)
        return await c.move(S.DROPPED_OUT, "classified", **data)
    if code.code not in RECHECKED_CODES or c.case.status not in (
        S.ABSENT,
        S.SUSPECTED,
        S.VERIFYING,
        S.MISSING,
    ):
        raise c.refuse()
    c.set_category(code)  # I or L: stays open under verification, re-checked periodically
    if c.case.status == S.VERIFYING:
        return c.event("classified", **data)
    return await c.move(S.VERIFYING, "classified", **data)


async def _clear(c: _Ctx, code: Code | None = None) -> CaseEvent:
    code = code or await official_code(c.uow, c.decision.code)
    if code.scheme == VERIFICATION_SCHEME and code.code == "E":
        raise InvalidInput("use_defer")
    if not code.clears_case:
        raise InvalidInput("code_does_not_clear", value=code.code)
    proof = c.note(required=True, field="proof")
    c.set_category(code)
    c.case.resolution = proof
    event = await c.move(S.CLEARED, "cleared", code=code.code, proof=proof)
    c.end_deadlines()
    return event


async def _mark_missing(c: _Ctx) -> CaseEvent:
    reference = c.note(required=True, field="police_report")
    code = await official_code(c.uow, "G")
    c.set_category(code)
    return await c.move(S.MISSING, "marked_missing", code="G", police_report=reference)


async def _recheck(c: _Ctx) -> CaseEvent:
    facts = await case_facts(c.uow, c.case, c.policy, c.tz)
    rechecked_code = c.case.category_scheme == VERIFICATION_SCHEME and c.case.category_code in RECHECKED_CODES
    if not (
        c.case.status == S.MISSING
        or (c.case.status == S.VERIFYING and rechecked_code)
        or (c.case.status == S.ESCALATED and facts.referred_at is not None)
    ):
        raise c.refuse()
    return c.event("rechecked", note=c.note(required=True))


async def _escalate(c: _Ctx) -> CaseEvent:
    if c.case.status not in DROPOUT_LEDGER:
        raise c.refuse()
    note = c.note(required=False)
    if c.case.status != S.ESCALATED:
        return await c.move(S.ESCALATED, "reported", reported_to=list(REPORTED_TO), note=note)
    if (await case_facts(c.uow, c.case, c.policy, c.tz)).reported_at is not None:
        raise c.refuse("already_reported")
    return c.event("reported", reported_to=list(REPORTED_TO), note=note)


async def _order_compliance(c: _Ctx) -> CaseEvent:
    if c.case.status != S.ESCALATED:
        raise c.refuse()
    facts = await case_facts(c.uow, c.case, c.policy, c.tz)
    if facts.reported_at is None:
        raise c.refuse("not_reported_yet")
    if facts.order_due is not None and facts.order_due >= c.today:
        raise c.refuse("order_pending")
    due = c.decision.due
    if due is None:
        raise InvalidInput("due_required")
    if not c.today < due <= c.today + MAX_ORDER:
        raise InvalidInput(
            "due_out_of_range",
            earliest=(c.today + timedelta(days=1)).isoformat(),
            latest=(c.today + MAX_ORDER).isoformat(),
        )
    return c.event("compliance_ordered", due=due.isoformat(), note=c.note(required=False))


async def _refer_legal(c: _Ctx) -> CaseEvent:
    if c.case.status != S.ESCALATED:
        raise c.refuse()
    facts = await case_facts(c.uow, c.case, c.policy, c.tz)
    if facts.order_due is None:
        raise c.refuse("no_order")
    if facts.order_due >= c.today:
        raise c.refuse("order_not_expired")
    if facts.referred_at is not None:
        raise c.refuse("already_referred")
    return c.event("legal_referral", note=c.note(required=True))


async def _defer(c: _Ctx) -> CaseEvent:
    """缓学/免学 (code E): written guardian application, approved by the village or 办事处 and filed with
    the education office (001_66f255ef30f14f7a.txt): the approving body and the end date are required."""
    if c.decision.code and c.decision.code.strip().upper() != "E":
        raise InvalidInput("use_classify")
    approved_by = c.note(required=True, field="approved_by")
    until = c.decision.due
    if until is None:
        raise InvalidInput("due_required")
    if not c.today < until <= c.today + MAX_DEFERRAL:
        raise InvalidInput(
            "due_out_of_range",
            earliest=(c.today + timedelta(days=1)).isoformat(),
            latest=(c.today + MAX_DEFERRAL).isoformat(),
        )
    c.set_category(await official_code(c.uow, "E"))
    c.case.resolution = approved_by
    event = await c.move(S.CLEARED, "deferred", code="E", until=until.isoformat(), approved_by=approved_by)
    c.end_deadlines()
    return event


async def _propose_closing(c: _Ctx) -> CaseEvent:
    if c.case.status != S.RETENTION:
        raise c.refuse()
    facts = await case_facts(c.uow, c.case, c.policy, c.tz)
    if facts.closing_proposed_at is not None:
        raise c.refuse("already_proposed")
    if facts.retention_checks_done < len(c.policy.retention_checks) + len(facts.reworks):
        raise c.refuse("checks_pending")
    return c.event("closing_proposed", note=c.note(required=False))


async def _approve_closing(c: _Ctx) -> CaseEvent:
    if c.case.status == S.RETENTION:
        if (await case_facts(c.uow, c.case, c.policy, c.tz)).closing_proposed_at is None:
            raise c.refuse("no_proposal")
    elif c.case.status != S.CLEARED:
        raise c.refuse()
    event = await c.move(S.CLOSED, "closing_approved", note=c.note(required=False))
    c.end_deadlines()
    return event


async def _return_for_rework(c: _Ctx) -> CaseEvent:
    if c.case.status != S.RETENTION:
        raise c.refuse()
    if (await case_facts(c.uow, c.case, c.policy, c.tz)).closing_proposed_at is None:
        raise c.refuse("no_proposal")
    return c.event("closing_returned", note=c.note(required=True))


async def _reopen(c: _Ctx) -> CaseEvent:
    note = c.note(required=True)
    if c.case.status == S.CLEARED:
        return await c.move(S.VERIFYING, "reopened", note=note)
    if c.case.status != S.CLOSED:
        raise c.refuse("not_closed")
    c.case.visit_due_at = c.policy.visit_due(c.now)
    c.case.returned_on = c.case.verification_due_at = c.case.return_due_at = None
    return await c.move(S.ABSENT, "reopened", note=note)


_HANDLERS: dict[str, Callable[[_Ctx], Awaitable[CaseEvent]]] = {
    "classify": _classify,
    "clear": _clear,
    "mark_missing": _mark_missing,
    "recheck": _recheck,
    "escalate": _escalate,
    "order_compliance": _order_compliance,
    "refer_legal": _refer_legal,
    "defer": _defer,
    "propose_closing": _propose_closing,
    "approve_closing": _approve_closing,
    "return_for_rework": _return_for_rework,
    "reopen": _reopen,
}
assert set(_HANDLERS) == set(DECISIONS)


def allowed_decisions(staff: Staff) -> list[str]:
    """The decisions the person's role makes, in the order they are offered."""
    role = Role(staff.role)
    return [name for name, roles in DECISIONS.items() if role in roles] if staff.active else []


async def decide(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    case_id: int,
    decision: Decision,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> tuple[Case, CaseEvent]:
    """Applies one decision; the caller commits. Refusals change nothing (audited when out of scope or role)."""
    if decision.decision not in DECISIONS:
        raise InvalidInput("unknown_decision", value=decision.decision[:40])
    case = await case_in_scope(uow, scope, actor, case_id, now)  # outside the area: 404 whatever the role
    if decision.decision not in allowed_decisions(staff):
        audit(uow, actor, now, "denied", "case", case_id, decision=decision.decision)
        raise NotAllowed(decision.decision)
    context = _Ctx(uow, case, actor, decision, now, policy, tz)
    event = await _HANDLERS[decision.decision](context)
    case.updated_at = now
    audit(
        uow,
        actor,
        now,
        "decide",
        "case",
        case.id,
        decision=decision.decision,
        code=decision.code,
        event=event.kind,
    )
    await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return case, event
