"""What a reminder says, as catalog keys and parameters; the bot layer translates and sends it.

Never a national ID, address or guardian phone; the pupil's name is always masked (张*明), because a
reminder is pushed to a phone's lock screen without anyone asking for it (DOMAIN.md §8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.identity import mask_name
from domain.reminder_rules import RETENTION_CHECK, RETURN_CHECK, VISIT_DUE
from storage.models import Case, Reminder
from storage.uow import UnitOfWork

SNOOZE = "rm:snooze"  # callback data rm:snooze:<reminder id>
RETENTION = "rm:ret"  # callback data rm:ret:<reminder id>:ok|no


@dataclass(frozen=True)
class Msg:
    """A catalog message; parameters may themselves be messages (translated first)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Message:
    lines: list[Msg]
    buttons: list[list[tuple[Msg, str]]] = field(default_factory=list)  # (label, callback data)


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
    parts.append("…" + student.student_number[-4:])
    return " · ".join(parts)


def _instead(row: Reminder, names: dict[int, str]) -> list[Msg]:
    instead_of = (row.payload or {}).get("instead_of")
    return [Msg("reminder.instead_of", {"name": names.get(instead_of, "?")})] if instead_of else []


def teacher_message(row: Reminder, label: str, tz: ZoneInfo, names: dict[int, str], now: datetime) -> Message:
    """One message per case with buttons that open the right conversation already on this case."""
    payload = row.payload or {}
    case_id = row.case_id
    snooze = [(Msg("reminder.button.snooze"), f"{SNOOZE}:{row.id}")]
    due = local_day(payload.get("due") or row.due_at, tz)
    lines: list[Msg]
    if row.kind == VISIT_DUE:
        lines = [Msg("reminder.visit_due", {"case": label, "due": due})]
        buttons = [[(Msg("reminder.button.visit"), f"go:visit:{case_id}")], snooze]
    elif row.kind == RETURN_CHECK:
        lines = [Msg("reminder.return_check", {"case": label, "due": due})]
        buttons = [
            [(Msg("reminder.button.return"), f"go:return:{case_id}")],
            [(Msg("reminder.button.visit"), f"go:visit:{case_id}")],
            snooze,
        ]
    elif row.kind == RETENTION_CHECK:
        lines = [
            Msg(
                "reminder.retention_check",
                {"case": label, "check": payload.get("check", 1), "of": payload.get("of", 1)},
            )
        ]
        buttons = [
            [(Msg("reminder.button.still_in_school"), f"{RETENTION}:{row.id}:ok")],
            [(Msg("reminder.button.absent_again"), f"{RETENTION}:{row.id}:no")],
            snooze,
        ]
    else:  # a kind meant for coordinators that reached someone directly: still say what it is about
        lines = [Msg("reminder.generic", {"case": label, "what": item_text(row, tz, now)})]
        buttons = []
    if row.snoozes:
        lines.append(Msg("reminder.snoozed_note", {"n": row.snoozes}))
    return Message(lines + _instead(row, names), buttons)


def item_text(row: Reminder, tz: ZoneInfo, now: datetime) -> Msg:
    """What one digest item is about: e.g. "first home visit overdue by 3 days"."""
    payload = row.payload or {}
    due_raw = payload.get("due")
    due = datetime.fromisoformat(due_raw) if due_raw else row.due_at
    days = max(0, (now.astimezone(tz).date() - due.astimezone(tz).date()).days)
    params = {
        "due": local_day(due, tz),
        "days": days,
        "check": payload.get("check", 1),
        "of": payload.get("of", 1),
    }
    return Msg(f"digest.what.{row.kind}", params)
