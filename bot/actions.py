"""What a reminder or digest button does, whatever the channel: "remind me tomorrow", the retention check,
"我来跟进" on an escalation, "批准销号" on a proposed closing and "确认上月月报".

A tap arrives as the same string on every channel (Telegram's callback data, WeCom's card button key:
bot.render.callback_data); `reminder_action` decodes it and `apply_reminder_action` applies it. The
channel's adapter keeps its own record of the tap (update ids, MsgIds) and answers it its own way.
"Open a form" buttons (go:<form>:<id>) are the forms' business, not this module's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.render import REMINDER_TAP, callback_data
from domain.audit import Actor
from domain.casework.decisions import Decision, DecisionRefused, NotAllowed, decide
from domain.casework.escalations import AlreadyAcknowledged, EscalationClosed, acknowledge
from domain.errors import InvalidInput, NotFound, NotInScope
from domain.messages import Action
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.reminders.actions import SnoozeRefused, own_reminder, record_retention_check, snooze_reminder
from domain.reminders.rules import MONTHLY_REPORT
from domain.reports.confirmations import confirm_monthly_report
from i18n import t
from storage.models import Staff
from storage.uow import UnitOfWork

REMINDER_ACTIONS = (
    "snooze",
    "retention_ok",
    "retention_absent",
    "acknowledge",
    "approve_closing",
    "confirm_report",
)
_Text = Callable[..., str]  # a catalog key and its parameters -> the text in the person's language
_RETENTION_ERRORS = {
    "not_in_retention": "reminder.retention.not_in_retention",
    "retention_already_recorded": "reminder.retention.already",
    "retention_check_not_due": "reminder.retention.not_due",
    "report_month_not_over": "report_confirm.not_over",
}


@dataclass(frozen=True)
class TapAnswer:
    """The text to show the person, and whether the transaction is to be committed (the tap changed
    something, or its refusal left an audit entry); otherwise the caller rolls back."""

    text: str
    keep: bool


def reminder_action(data: str) -> Action | None:
    """The action of a reminder button's string (rm:<action>:<id>[:ok|no]); None for anything else."""
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != REMINDER_TAP or not parts[2].isdigit():
        return None
    for name in REMINDER_ACTIONS:  # decoded by encoding: one table (bot.render) says what the strings are
        if callback_data(action := Action(name, int(parts[2]))) == data:
            return action
    return None


async def apply_reminder_action(
    uow: UnitOfWork,
    staff: Staff,
    actor: Actor,
    action: Action,
    *,
    language: str,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> TapAnswer:
    """Applies a reminder button of `staff` (bound on any channel; `actor` names the channel and account
    for the audit trail) inside the caller's open unit of work, and returns the answer in `language`.
    The caller commits when `keep` is true (after storing its own record of the tap) and never before.
    Raises ValueError for an action that is not a reminder button (see REMINDER_ACTIONS)."""
    if action.name not in REMINDER_ACTIONS:
        raise ValueError(f"not a reminder button: {action.name}")

    def text(key: str, **params: object) -> str:
        return t(language, key, **params)

    tap = _Tap(uow, staff, actor, now, policy, tz, text)
    try:
        if action.name in ("acknowledge", "approve_closing"):
            answer = await _coordinator_tap(tap, action)
        elif action.name == "confirm_report":
            answer = await _confirm_report(tap, action.target)
        elif action.name == "snooze":
            again = await snooze_reminder(uow, actor, action.target, now=now, policy=policy, tz=tz)
            answer = text(
                "reminder.snooze.done", when=again.send_after.astimezone(tz).strftime("%m-%d %H:%M")
            )
        else:
            answer = await _retention(tap, action)
        return TapAnswer(answer, keep=True)
    except SnoozeRefused as exc:
        return TapAnswer(text(f"reminder.snooze.{exc.reason}", **exc.params), keep=False)
    except NotInScope:
        return TapAnswer(text("reminder.not_yours"), keep=True)  # keeps the audit entry of the refusal
    except NotFound:
        return TapAnswer(text("reminder.unknown"), keep=False)
    except InvalidInput as exc:
        return TapAnswer(text(_RETENTION_ERRORS.get(exc.code, "reminder.unknown"), **exc.params), keep=False)


@dataclass(frozen=True)
class _Tap:
    """Who tapped, when, and the services the use cases need."""

    uow: UnitOfWork
    staff: Staff
    actor: Actor
    now: datetime
    policy: Policy
    tz: ZoneInfo
    text: _Text


async def _retention(tap: _Tap, action: Action) -> str:
    """The retention check's "still in school" / "absent again"."""
    ok = action.name == "retention_ok"
    row = await own_reminder(tap.uow, tap.actor, action.target, tap.now)
    if row.case_id is None:
        raise NotFound(f"reminder {action.target}")
    event = await record_retention_check(
        tap.uow,
        await scope_for(tap.uow, tap.staff),
        tap.actor,
        row.case_id,
        ok,
        tap.now,
        tap.policy,
        tz=tap.tz,
        check=(row.payload or {}).get("check"),
    )
    case = await tap.uow.cases.get(row.case_id)
    assert case is not None
    key = (
        "reminder.retention.relapse"
        if not ok
        else "reminder.retention.proposed"
        if event.data["check"] >= event.data["of"]
        else "reminder.retention.ok"
    )
    return tap.text(key, number=case.number, check=event.data["check"], of=event.data["of"])


async def _coordinator_tap(tap: _Tap, action: Action) -> str:
    """A digest button: "我来跟进" on an escalation, "批准销号" on a proposed closing."""
    scope = await scope_for(tap.uow, tap.staff)
    if action.name == "acknowledge":
        try:
            done = await acknowledge(
                tap.uow, scope, tap.actor, tap.staff, action.target, now=tap.now, policy=tap.policy, tz=tap.tz
            )
        except AlreadyAcknowledged as exc:
            by = exc.by.name if exc.by is not None else "?"
            at = (
                exc.escalation.acknowledged_at.astimezone(tap.tz).strftime("%m-%d %H:%M")
                if exc.escalation.acknowledged_at
                else ""
            )
            return tap.text("ack.already", name=by, at=at)
        except EscalationClosed:
            return tap.text("ack.closed")
        return tap.text("ack.acknowledged", number=done.case.number)
    try:
        case, _ = await decide(
            tap.uow,
            scope,
            tap.actor,
            tap.staff,
            action.target,
            Decision("approve_closing"),
            now=tap.now,
            policy=tap.policy,
            tz=tap.tz,
        )
    except DecisionRefused as exc:
        status, name = str(exc.params.get("status", "")), str(exc.params.get("decision", ""))
        return tap.text(
            f"decision.refused.{exc.reason}",
            status=tap.text(f"status.{status}"),
            decision=tap.text(f"decision.name.{name}"),
        )
    except NotAllowed:
        return tap.text("decision.not_allowed")
    return tap.text("decision.closing_approved", number=case.number)


async def _confirm_report(tap: _Tap, reminder_id: int) -> str:
    """The digest's "确认上月月报": the principal confirms the month the reminder was about."""
    row = await own_reminder(tap.uow, tap.actor, reminder_id, tap.now)
    month = str((row.payload or {}).get("month", ""))
    if row.kind != MONTHLY_REPORT or tap.staff.school_id is None or len(month) != 7:
        raise NotFound(f"reminder {reminder_id}")
    first = date(int(month[:4]), int(month[5:]), 1)
    done = await confirm_monthly_report(
        tap.uow,
        await scope_for(tap.uow, tap.staff),
        tap.actor,
        tap.staff,
        tap.staff.school_id,
        first,
        now=tap.now,
        tz=tap.tz,
    )
    key = "report_confirm.already" if done.already else "report_confirm.done"
    at = done.row.confirmed_at.astimezone(tap.tz).strftime("%m-%d %H:%M")
    return tap.text(key, month=month, at=at)
