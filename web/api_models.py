"""Response models of /api/v1 (they are also its OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class CaseSummary(BaseModel):
    """A case as listed; the pupil's name and record number are masked."""

    id: int
    number: str
    status: str
    category_scheme: str | None
    category_code: str | None
    student_name: str = Field(description="Masked, e.g. 张*明")
    student_number: str = Field(description="Masked 学籍号; — for a child on no school roll (失学)")
    school: str | None = Field(description="None for a child on no school roll (失学)")
    class_name: str | None
    grade: int | None
    village: str | None
    township: str | None = Field(default=None, description="The township of the pupil's village")
    kind: str = Field(default="dropout", description="dropout (辍学) or out_of_school (失学, never enrolled)")
    first_absent_on: date | None
    opened_at: datetime
    updated_at: datetime
    overdue: bool


class CaseList(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[CaseSummary]


class CaseDetail(CaseSummary):
    """One case with its deadlines, people responsible and key-group flags."""

    reason: str | None
    responsible_teacher: str | None
    responsible_cadre: str | None
    flags: list[str]
    visit_due_at: datetime | None
    verification_due_at: datetime | None
    return_due_at: datetime | None
    returned_on: date | None
    closed_at: datetime | None
    photos: int
    next_step: str | None = Field(
        default=None,
        description="What the case waits for next (e.g. first_visit, verify, report, approve_closing)",
    )
    next_step_due_at: datetime | None = Field(
        default=None, description="When the next step is due; past it, the case is overdue"
    )


class CaseEventOut(BaseModel):
    """One timeline entry; visit locations are left out (DOMAIN.md §8)."""

    id: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str | None
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]


class CategoryCountOut(BaseModel):
    scheme: str | None
    code: str | None
    label_zh: str
    label_en: str
    count: int


class SchoolOverdue(BaseModel):
    school_id: int = Field(description="0 (school empty): cases of children on no school roll (失学)")
    school: str
    overdue: int


class WeekOut(BaseModel):
    starts_on: date
    opened: int
    returned: int


class Statistics(BaseModel):
    """The overview numbers of the token holder's area."""

    by_status: dict[str, int]
    by_category: list[CategoryCountOut]
    overdue_by_school: list[SchoolOverdue]
    weeks: list[WeekOut]
    open_total: int
    overdue_total: int
    enrolled: int
    dropped_out: int
    out_of_school: int = Field(
        default=0,
        description="失学 children (never enrolled) still out of school, counted apart from dropouts",
    )
    retention_rate: float | None = Field(description="(enrolled − pupils in the dropout ledger) / enrolled")
    as_of: datetime | None = Field(
        default=None,
        description="When the numbers were counted, for a large area "
        "served from the scheduler's snapshot; null when counted for this request",
    )


DecisionName = Literal[
    "classify",
    "clear",
    "mark_missing",
    "recheck",
    "escalate",
    "order_compliance",
    "refer_legal",
    "defer",
    "propose_closing",
    "approve_closing",
    "return_for_rework",
    "reopen",
]


class DecisionIn(BaseModel):
    """A coordinator's decision on a case (docs/casework.md says who decides what)."""

    decision: DecisionName
    code: str | None = Field(
        default=None,
        max_length=4,
        pattern=r"^[A-Za-z][0-9]?$",
        description="An official code as DOMAIN.md §4 writes it, e.g. B, G or A2 "
        "(classify, clear; E for defer)",
    )
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Proof (clear), police report reference (mark_missing), approving body "
        "(defer), reason (reopen, return_for_rework), or a free note. A text holding an ID or mobile "
        "number is refused (422, reason identifiers_in_text).",
    )
    due: date | None = Field(default=None, description="order_compliance: comply by; defer: deferred until")


class DecisionOut(BaseModel):
    case: CaseDetail
    event: CaseEventOut


class Refusal(BaseModel):
    detail: str
    reason: str = Field(description="Why the case's state does not allow it, e.g. not_in_state, no_proposal")


class EscalationOut(BaseModel):
    """A missed step told to the level above, and who took it on."""

    id: int
    case_id: int
    case_number: str
    step: str
    level: str = Field(description="The highest role told so far")
    raised_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
