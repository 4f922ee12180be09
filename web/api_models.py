"""Response models of /api/v1 (they are also its OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class CaseSummary(BaseModel):
    """A case as listed; the pupil's name and record number are masked."""

    id: int
    number: str
    status: str
    category_scheme: str | None
    category_code: str | None
    student_name: str = Field(description="Masked, e.g. 张*明")
    student_number: str = Field(description="Masked 学籍号")
    school: str
    class_name: str
    grade: int
    village: str | None
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
    school_id: int
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
    retention_rate: float | None = Field(description="(enrolled − pupils in the dropout ledger) / enrolled")
    as_of: datetime | None = Field(
        default=None,
        description="When the numbers were counted, for a large area "
        "served from the scheduler's snapshot; null when counted for this request",
    )
