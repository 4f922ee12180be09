"""What a reminder says, as catalog keys and parameters; the bot layer translates and sends it.

Never a national ID, address or guardian phone; the pupil's name is always masked (张*明), because a
reminder is pushed to a phone's lock screen without anyone asking for it (DOMAIN.md §8).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.casework import steps
from domain.messages import Action, Message, Msg
from domain.privacy.identity import mask_name
from domain.reminders.rules import FOLLOW_UP, HOME_TEACHING_DUE, OVERDUE, PERSUASION_ROUND
from domain.reminders.term_start import TERM_START
from domain.school_age.school_roll import number_tail
from storage import home_teaching
from storage.models import Case, Reminder
from storage.uow import UnitOfWork

# What the owner of a step can do from its reminder; "remind me tomorrow" is added to each.
_OWNER_BUTTONS: dict[str, tuple[str, ...]] = {
    steps.FIRST_VISIT: ("visit",),
    steps.NEXT_VISIT: ("visit",),
    steps.PERSUADE: ("visit", "return"),
    steps.PROMISE_CHECK: ("return", "visit"),
    steps.RECHECK_VISIT: ("visit", "return"),
    steps.RETURN_CHECK: ("return", "visit"),
    PERSUASION_ROUND: ("visit", "return"),
}


def local_day(moment: datetime | str | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(tz).strftime("%Y-%m-%d")


async def case_label(uow: UnitOfWork, case: Case) -> str:
    """2026-000012 · 张*明 · 五年级(1)班 · …1234 (masked; the last digits tell namesakes apart)."""
    student = await uow.students.get(case.student_id)
    if student is None:
        return case.number
    school_class = await uow.directory.school_class(student.class_id)
    parts = [case.number, mask_name(student.name)]
    if school_class is not None:
        parts.append(school_class.name)
    elif student.home_village_id is not None:  # 失学: no class; the village the cadre and township know
        village = await uow.directory.area(student.home_village_id)
        parts.append(village.name if village is not None else "—")
    if tail := number_tail(student.student_number):
        parts.append(tail)
    return " · ".join(parts)


async def plan_label(uow: UnitOfWork, plan_id: object) -> str:
    """A home-teaching plan's pupil, masked as in case labels: 张*明 · 五年级(1)班 · …1234."""
    plan = await home_teaching.plan(uow.session, plan_id) if isinstance(plan_id, int) else None
    student = await uow.students.get(plan.student_id) if plan is not None else None
    if student is None:
        return "—"
    school_class = await uow.directory.school_class(student.class_id)
    parts = [mask_name(student.name)]
    if school_class is not None:
        parts.append(school_class.name)
    if tail := number_tail(student.student_number):
        parts.append(tail)
    return " · ".join(parts)


def _instead(row: Reminder, names: dict[int, str]) -> list[Msg]:
    instead_of = (row.payload or {}).get("instead_of")
    return [Msg("reminder.instead_of", {"name": names.get(instead_of, "?")})] if instead_of else []


def teacher_message(row: Reminder, label: str, tz: ZoneInfo, names: dict[int, str], now: datetime) -> Message:
    """One message per case with buttons that open the right conversation already on this case."""
    payload = row.payload or {}
    case_id = row.case_id or 0
    snooze = [(Msg("reminder.button.snooze"), Action("snooze", row.id))]
    params = {
        "case": label,
        "due": local_day(payload.get("due") or row.due_at, tz),
        "promised": payload.get("promised", ""),
        "check": payload.get("check", 1),
        "of": payload.get("of", 1),
        "round": payload.get("round", 1),
    }
    buttons: list[list[tuple[Msg, Action]]]
    if row.kind in _OWNER_BUTTONS:
        lines = [Msg(f"reminder.{row.kind}", params)]
        buttons = [
            [(Msg(f"reminder.button.{name}"), Action(name, case_id))] for name in _OWNER_BUTTONS[row.kind]
        ]
        buttons.append(snooze)
    elif row.kind == HOME_TEACHING_DUE:
        period = {k: payload.get(k, "") for k in ("held", "planned", "period_end")}
        lines = [Msg("reminder.home_teaching_due", {"pupil": label, **period})]
        buttons = [
            [(Msg("reminder.button.homeschool"), Action("homeschool", int(payload.get("plan") or 0)))],
            snooze,
        ]
    elif row.kind == steps.RETENTION_CHECK:
        lines = [Msg("reminder.retention_check", params)]
        buttons = [
            [(Msg("reminder.button.still_in_school"), Action("retention_ok", row.id))],
            [(Msg("reminder.button.absent_again"), Action("retention_absent", row.id))],
            snooze,
        ]
    elif row.kind == TERM_START:  # no case: the class's roll call, the same form as /rollcall
        # "window": the policy's verification window (a prompt planned before it was stored: the shipped 15).
        params = {k: payload.get(k, default) for k, default in (("days", 1), ("until", ""), ("window", 15))}
        lines = [Msg("reminder.term_start", params)]
        buttons = [[(Msg("reminder.button.rollcall"), Action("rollcall", row.id))]]
    else:  # a kind meant for coordinators that reached someone directly: still say what it is about
        lines = [Msg("reminder.generic", {"case": label, "what": item_text(row, tz, now)})]
        buttons = []
    if payload.get("repeat"):
        lines.append(Msg("reminder.repeat_note", {"n": payload["repeat"]}))
    if row.snoozes:
        lines.append(Msg("reminder.snoozed_note", {"n": row.snoozes}))
    return Message(lines + _instead(row, names), buttons)


def item_text(row: Reminder, tz: ZoneInfo, now: datetime) -> Msg:
    """What one digest item is about: e.g. "overdue: first home visit (due 10-12, 3 days ago)"."""
    payload = row.payload or {}
    due_raw = payload.get("due")
    due = datetime.fromisoformat(due_raw) if due_raw else row.due_at
    days = max(0, (now.astimezone(tz).date() - due.astimezone(tz).date()).days)
    params: dict[str, Any] = {
        "due": local_day(due, tz),
        "days": days,
        "check": payload.get("check", 1),
        "of": payload.get("of", 1),
        "promised": payload.get("promised", ""),
        "until": payload.get("until", ""),
        "held": payload.get("held", 0),
        "planned": payload.get("planned", 0),
        "period_start": payload.get("period_start", ""),
        "period_end": payload.get("period_end", ""),
        "streak": payload.get("streak", 1),
    }
    if row.kind in (OVERDUE, FOLLOW_UP):
        params["step"] = Msg(f"step.{payload.get('step', 'unknown')}")
    return Msg(f"digest.what.{row.kind}", params)
