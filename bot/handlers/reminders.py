"""Buttons on reminders: "remind me tomorrow" (rm:snooze:<id>), the retention check (rm:ret:<id>:ok|no),
and on coordinators' digests "我来跟进" (rm:ack:<escalation id>), "批准销号" (rm:close:<case id>) and
"确认上月月报" (rm:report:<monthly report reminder id>).

"Log the visit now" and "confirm the return" are go:<form>:<case id> buttons handled by the forms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.context import CHANNEL, Caller, bot_id, identify, services_of
from bot.render import answer_tap
from domain.audit import Actor
from domain.casework.decisions import Decision, DecisionRefused, NotAllowed, decide
from domain.casework.escalations import AlreadyAcknowledged, EscalationClosed, acknowledge
from domain.errors import InvalidInput, NotFound, NotInScope
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.reminders.actions import SnoozeRefused, own_reminder, record_retention_check, snooze_reminder
from domain.reminders.rules import MONTHLY_REPORT
from domain.reports.confirmations import confirm_monthly_report
from storage.models import Staff
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)
PATTERN = r"^rm:"


async def _answer(query: CallbackQuery, text: str) -> bool:
    """Shows the answer as an alert; False when the tap cannot be answered any more."""
    try:
        await query.answer(text[:190], show_alert=True)
        return True
    except BadRequest as exc:  # already answered, or too old (a redelivered update)
        log.info("reminder button not answered: %s", exc)
        return False


async def on_reminder_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Applies the tap in one transaction and answers it with a short alert."""
    query = update.callback_query
    caller = await identify(update, context)
    if query is None or caller is None:
        return
    if caller.staff is None:
        await _answer(query, caller.text("onboarding.unbound"))
        return
    parts = (query.data or "").split(":")
    reminder_id = int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else None
    if (
        reminder_id is None
        or parts[1] not in ("snooze", "ret", "ack", "close", "report")
        or (parts[1] == "ret" and parts[3:] not in (["ok"], ["no"]))
    ):
        await _answer(query, caller.text("reminder.unknown"))
        return
    text = await _apply(update.update_id, context, caller, parts[1], reminder_id, parts[3:] == ["ok"])
    if isinstance(text, Replayed):
        # Applied before (a redelivery, maybe after the process died before answering): its answer
        # again, as a message when the tap is too old to be answered.
        if text.answer is None:
            await answer_tap(query)
        elif not await _answer(query, text.answer):
            await context.bot.send_message(caller.chat_id, text.answer)
    else:
        await _answer(query, text)


@dataclass(frozen=True)
class Replayed:
    answer: str | None  # what the tap was answered with when it was applied


async def _apply(
    update_id: int,
    context: ContextTypes.DEFAULT_TYPE,
    caller: Caller,
    action: str,
    reminder_id: int,
    ok: bool,
) -> str | Replayed:
    """The tap's answer, kept with the update; Replayed for an update applied before."""
    services = services_of(context)
    assert caller.staff is not None
    async with services.uow() as uow:
        staff = await uow.directory.staff(caller.staff.id)
        assert staff is not None
        actor = Actor(staff.id, f"telegram:{caller.chat_id}", "telegram")
        now, policy, tz = services.clock.now(), services.policy, services.tz
        if not await uow.updates.first(update_id, now, channel=CHANNEL, bot_id=bot_id(context)):
            kept = await uow.updates.reply(update_id, channel=CHANNEL, bot_id=bot_id(context))
            return Replayed(None if kept is None else kept["answer"])
        try:
            if action in ("ack", "close"):
                text = await _coordinator_tap(uow, caller, staff, actor, action, reminder_id, now, policy, tz)
            elif action == "report":
                text = await _confirm_report(uow, caller, staff, actor, reminder_id, now, tz)
            elif action == "snooze":
                again = await snooze_reminder(uow, actor, reminder_id, now=now, policy=policy, tz=tz)
                text = caller.text(
                    "reminder.snooze.done", when=again.send_after.astimezone(tz).strftime("%m-%d %H:%M")
                )
            else:
                row = await own_reminder(uow, actor, reminder_id, now)
                if row.case_id is None:
                    raise NotFound(f"reminder {reminder_id}")
                event = await record_retention_check(
                    uow,
                    await scope_for(uow, staff),
                    actor,
                    row.case_id,
                    ok,
                    now,
                    policy,
                    tz=tz,
                    check=(row.payload or {}).get("check"),
                )
                case = await uow.cases.get(row.case_id)
                assert case is not None
                key = (
                    "reminder.retention.relapse"
                    if not ok
                    else "reminder.retention.proposed"
                    if event.data["check"] >= event.data["of"]
                    else "reminder.retention.ok"
                )
                text = caller.text(key, number=case.number, check=event.data["check"], of=event.data["of"])
            await uow.updates.keep_reply(update_id, {"answer": text}, channel=CHANNEL, bot_id=bot_id(context))
            await uow.commit()
            return text
        except SnoozeRefused as exc:
            return caller.text(f"reminder.snooze.{exc.reason}", **exc.params)
        except NotInScope:
            text = caller.text("reminder.not_yours")
            await uow.updates.keep_reply(update_id, {"answer": text}, channel=CHANNEL, bot_id=bot_id(context))
            await uow.commit()  # keeps the audit entry of the refusal; nothing else changed
            return text
        except NotFound:
            return caller.text("reminder.unknown")
        except InvalidInput as exc:
            return caller.text(_RETENTION_ERRORS.get(exc.code, "reminder.unknown"), **exc.params)


async def _coordinator_tap(
    uow: UnitOfWork,
    caller: Caller,
    staff: Staff,
    actor: Actor,
    action: str,
    target: int,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> str:
    """A digest button: "我来跟进" on an escalation, "批准销号" on a proposed closing."""
    scope = await scope_for(uow, staff)
    if action == "ack":
        try:
            done = await acknowledge(uow, scope, actor, staff, target, now=now, policy=policy, tz=tz)
        except AlreadyAcknowledged as exc:
            by = exc.by.name if exc.by is not None else "?"
            at = (
                exc.escalation.acknowledged_at.astimezone(tz).strftime("%m-%d %H:%M")
                if exc.escalation.acknowledged_at
                else ""
            )
            return caller.text("ack.already", name=by, at=at)
        except EscalationClosed:
            return caller.text("ack.closed")
        return caller.text("ack.acknowledged", number=done.case.number)
    try:
        case, _ = await decide(
            uow, scope, actor, staff, target, Decision("approve_closing"), now=now, policy=policy, tz=tz
        )
    except DecisionRefused as exc:
        status, name = str(exc.params.get("status", "")), str(exc.params.get("decision", ""))
        return caller.text(
            f"decision.refused.{exc.reason}",
            status=caller.text(f"status.{status}"),
            decision=caller.text(f"decision.name.{name}"),
        )
    except NotAllowed:
        return caller.text("decision.not_allowed")
    return caller.text("decision.closing_approved", number=case.number)


async def _confirm_report(
    uow: UnitOfWork, caller: Caller, staff: Staff, actor: Actor, reminder_id: int, now: datetime, tz: ZoneInfo
) -> str:
    """The digest's "确认上月月报": the principal confirms the month the reminder was about."""
    row = await own_reminder(uow, actor, reminder_id, now)
    month = str((row.payload or {}).get("month", ""))
    if row.kind != MONTHLY_REPORT or staff.school_id is None or len(month) != 7:
        raise NotFound(f"reminder {reminder_id}")
    first = date(int(month[:4]), int(month[5:]), 1)
    done = await confirm_monthly_report(
        uow, await scope_for(uow, staff), actor, staff, staff.school_id, first, now=now, tz=tz
    )
    key = "report_confirm.already" if done.already else "report_confirm.done"
    at = done.row.confirmed_at.astimezone(tz).strftime("%m-%d %H:%M")
    return caller.text(key, month=month, at=at)


_RETENTION_ERRORS = {
    "not_in_retention": "reminder.retention.not_in_retention",
    "retention_already_recorded": "reminder.retention.already",
    "retention_check_not_due": "reminder.retention.not_due",
    "report_month_not_over": "report_confirm.not_over",
}
