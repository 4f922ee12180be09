"""Coordinators' daily digest: one message a day listing what is overdue in their area, by school.

Reminders for principals, township and county officers are planned per case like any other (channel
"digest"), so they are cancelled when the case moves on. Once a day, at the digest time, every
coordinator's due items are collected into ONE row of kind "digest" (key digest:-:<local date>:<staff>,
unique, so two schedulers cannot both make one) and the items are marked "batched"; sending the digest
marks them sent and writes an "escalated" event in each case's timeline. Items that fall due after
today's digest wait for tomorrow's: never more than one digest per person per day.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from domain.audit import Actor
from domain.casework.cases import add_event
from domain.messages import Action, Message, Msg
from domain.policy import Policy
from domain.reminders.planning import still_wanted
from domain.reminders.quiet_hours import is_skipped_day, next_allowed
from domain.reminders.rules import (
    APPROVE_CLOSING,
    DIGEST,
    HOME_TEACHING_DUE,
    HOME_TEACHING_MISSED,
    MONTHLY_REPORT,
)
from domain.reminders.term_start import TERM_START
from domain.reminders.text import case_label, item_text, plan_label
from storage import outbox
from storage.models import Reminder
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
MAX_ITEMS = 30  # beyond this the digest counts the rest and points to the dashboard (chat messages are capped at a few thousand characters)


def digest_key(recipient_id: int, day: str) -> str:
    return f"{DIGEST}:-:{day}:{recipient_id}"


async def build_digests(
    uow_factory: UnitOfWorkFactory, *, now: datetime, policy: Policy, tz: ZoneInfo
) -> int:
    """Makes today's digest for every coordinator with due items (once the digest time has come)."""
    local = now.astimezone(tz)
    if local.time() < policy.reminders.digest_time or is_skipped_day(local.date(), policy):
        return 0
    day = local.date().isoformat()
    async with uow_factory() as uow:
        due = await outbox.due_digest_items(uow.session, now)
    made = 0
    for recipient_id, items in due.items():
        try:
            async with uow_factory() as uow:
                key = digest_key(recipient_id, day)
                if await outbox.by_key(uow.session, key) is not None:
                    continue  # today's digest is out; these items wait for tomorrow's
                ids = [i.id for i in items]
                inserted = await outbox.insert_once(
                    uow.session,
                    kind=DIGEST,
                    case_id=None,
                    recipient_id=recipient_id,
                    due_at=now,
                    send_after=next_allowed(now, policy, tz),
                    dedupe_key=key,
                    channel="direct",
                    payload={"items": ids, "date": day},
                    created_at=now,
                )
                if not inserted or await outbox.change_many(
                    uow.session, ids, when_state=outbox.PENDING, state=outbox.BATCHED
                ) != len(ids):
                    continue  # another scheduler made it, or an item changed meanwhile: next tick retries
                await uow.commit()
                made += 1
        except DBAPIError as exc:
            log.info("digest for %s not made this time: %s", recipient_id, type(exc).__name__)
    return made


async def digest_members(
    uow: UnitOfWork, row: Reminder, policy: Policy | None, tz: ZoneInfo | None, now: datetime
) -> list[Reminder]:
    """The digest's items still waiting in it; with a policy, items no longer due are dropped (skipped)."""
    if row.kind != DIGEST:
        return []
    members = [
        m
        for m in await outbox.by_ids(uow.session, (row.payload or {}).get("items", []))
        if m.state == outbox.BATCHED
    ]
    if policy is None or tz is None:
        return members
    kept = []
    for member in members:
        if await still_wanted(uow, member, policy, tz, now):
            kept.append(member)
            continue
        await outbox.change(
            uow.session,
            member.id,
            when_state=outbox.BATCHED,
            state=outbox.SKIPPED,
            last_error="no_longer_due",
        )
        case = await uow.cases.get(member.case_id) if member.case_id is not None else None
        if case is not None:
            add_event(
                uow,
                case,
                "reminder_skipped",
                Actor.system("reminders"),
                now,
                reminder_id=member.id,
                reminder_kind=member.kind,
                recipient_id=member.recipient_id,
                reason="no_longer_due",
            )
    return kept


async def digest_message(
    uow: UnitOfWork,
    row: Reminder,
    members: list[Reminder],
    tz: ZoneInfo,
    now: datetime,
    escalations: dict[int, int] | None = None,
) -> Message:
    """Title, last month's report if due, then the cases grouped by school (masked names), numbered.
    Items that need no typing carry a button with their number: "我来跟进" on an escalation
    (`escalations`: item id -> escalation id), "批准销号" on a closing awaiting approval."""
    escalations = escalations or {}
    lines = [
        Msg(
            "digest.title",
            {
                "date": (row.payload or {}).get("date", now.astimezone(tz).date().isoformat()),
                "n": len(members),
            },
        )
    ]
    buttons: list[list[tuple[Msg, Action]]] = []
    for member in members:
        if member.kind == MONTHLY_REPORT:
            month = (member.payload or {}).get("month", "")
            lines.append(Msg("digest.monthly_report", {"month": month}))
            # The principal confirms (submits) the report once checked: the county sees who has not.
            buttons.append(
                [(Msg("digest.button.confirm_report", {"month": month}), Action("confirm_report", member.id))]
            )
        elif member.kind in (HOME_TEACHING_DUE, HOME_TEACHING_MISSED):  # 送教上门: keyed by plan, not case
            pupil = await plan_label(uow, (member.payload or {}).get("plan"))
            instead = (member.payload or {}).get("instead_of")
            staff = await uow.directory.staff(instead) if isinstance(instead, int) else None
            instead_note = Msg("digest.instead_of", {"name": staff.name}) if staff is not None else ""
            what = item_text(member, tz, now)
            lines.append(Msg("digest.home_teaching", {"pupil": pupil, "what": what, "note": instead_note}))
        elif member.kind == TERM_START:  # a class teacher who could not be prompted to do the roll call
            staff = await uow.directory.staff((member.payload or {}).get("instead_of") or 0)
            lines.append(Msg("digest.term_start", {"name": staff.name if staff is not None else "?"}))
    grouped: dict[str, list[tuple[datetime, Reminder, Msg]]] = {}
    names: dict[int, str] = {}
    for member in members:
        if member.case_id is None:
            continue
        case = await uow.cases.get(member.case_id)
        student = await uow.students.get(case.student_id) if case is not None else None
        school = await uow.directory.school(student.school_id) if student is not None else None
        if case is None:
            continue
        note: Msg | str = ""
        instead_of = (member.payload or {}).get("instead_of")
        if instead_of:
            if instead_of not in names:
                staff = await uow.directory.staff(instead_of)
                names[instead_of] = staff.name if staff is not None else "?"
            note = Msg("digest.instead_of", {"name": names[instead_of]})
        params = {"case": await case_label(uow, case), "what": item_text(member, tz, now), "note": note}
        grouped.setdefault(school.name if school else "—", []).append(
            (member.due_at, member, Msg("", params))
        )
    shown = 0
    for school_name in sorted(grouped):
        items = sorted(grouped[school_name], key=lambda entry: entry[0])
        if shown >= MAX_ITEMS:
            break
        lines.append(Msg("digest.school", {"school": school_name, "n": len(items)}))
        for _, member, item in items[: MAX_ITEMS - shown]:
            shown += 1
            lines.append(Msg("digest.item", {"n": shown, **item.params}))
            if member.id in escalations:
                buttons.append(
                    [
                        (
                            Msg("digest.button.acknowledge", {"n": shown}),
                            Action("acknowledge", escalations[member.id]),
                        )
                    ]
                )
            elif member.kind == APPROVE_CLOSING and member.case_id is not None:
                buttons.append(
                    [
                        (
                            Msg("digest.button.approve_closing", {"n": shown}),
                            Action("approve_closing", member.case_id),
                        )
                    ]
                )
    total = sum(len(v) for v in grouped.values())
    if total > shown:
        lines.append(Msg("digest.more", {"n": total - shown}))
    return Message(lines, buttons)
