"""How students and cases are named in chat: masked by default (DOMAIN.md §8), never with IDs."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.conversations.model import FormContext
from domain.privacy.identity import mask_name
from domain.school_age.school_roll import number_tail
from storage.models import Case


class Pupil(Protocol):
    """What a pupil's label shows: a Student, or a row with these columns."""

    @property
    def name(self) -> str: ...
    @property
    def school_id(self) -> int | None: ...
    @property
    def student_number(self) -> str: ...


def student_label(ctx: FormContext, student: Pupil, class_name: str | None) -> str:
    """张*明 · 五年级(1)班 · …1234 — enough to tell pupils apart without exposing them."""
    name = student.name if ctx.services.settings.show_full_student_names else mask_name(student.name)
    parts = [name]
    if class_name is not None:
        parts.append(class_name)
    elif student.school_id is None:  # 失学: on no roll, and the internal number is no 学籍号
        parts.append(ctx.t("out_of_school.no_school"))
    if tail := number_tail(student.student_number):
        parts.append(tail)
    return " · ".join(parts)


def status_label(ctx: FormContext, status: str) -> str:
    return ctx.t(f"status.{status}")


def local_date(ctx: FormContext, moment: datetime | None) -> str:
    return moment.astimezone(ctx.tz).strftime("%Y-%m-%d") if moment else "—"


async def case_label(ctx: FormContext, case: Case) -> str:
    student = await ctx.uow.students.get(case.student_id)
    assert student is not None
    school_class = await ctx.uow.directory.school_class(student.class_id)
    label = student_label(ctx, student, school_class.name if school_class else None)
    return f"{case.number} · {label} · {status_label(ctx, case.status)}"
