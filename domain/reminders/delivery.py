"""What happens around one send: the last check before it, and recording sent / failed / unreachable.

Each function runs in its own short transaction and changes a claimed row only while this worker still
holds it (state "claimed", claimed_by = worker), so a worker whose lease ran out changes nothing.
Every outcome is visible twice: in the row itself (the reminders log) and in the case timeline.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor
from domain.casework.cases import add_event
from domain.casework.escalations import raise_for
from domain.messages import Action, Address, Message, Msg
from domain.people.language import language_of
from domain.policy import Policy
from domain.reminders.digest import digest_members, digest_message
from domain.reminders.facts import escalation_target
from domain.reminders.planning import base_key, still_wanted
from domain.reminders.quiet_hours import next_allowed
from domain.reminders.rules import (
    DIGEST,
    HOME_TEACHING_DUE,
    HOME_TEACHING_MISSED,
    OVERDUE,
    backoff,
    channel_for,
)
from domain.reminders.text import case_label, plan_label, teacher_message
from storage import outbox
from storage.models import ChannelAccount, Reminder, Staff
from storage.uow import UnitOfWork

SYSTEM = Actor.system("reminders")


@dataclass
class Delivery:
    """A claimed row ready to go: where, in which language, what."""

    row: Reminder
    to: Address
    language: str
    message: Message
    members: list[Reminder] = field(default_factory=list)  # the items of a digest


async def _timeline(uow: UnitOfWork, row: Reminder, kind: str, now: datetime, **data: Any) -> None:
    if row.case_id is None:
        return
    case = await uow.cases.get(row.case_id)
    if case is not None:
        add_event(
            uow,
            case,
            kind,
            SYSTEM,
            now,
            reminder_id=row.id,
            reminder_kind=row.kind,
            recipient_id=row.recipient_id,
            **data,
        )


async def prepare(
    uow: UnitOfWork,
    row: Reminder,
    worker: str,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    default_language: str,
    channels: Collection[str] | None = None,
) -> Delivery | None:
    """The message to send, or None when the row was settled here (skipped or unreachable). `channels`:
    the ones this deployment runs; a person bound on a channel no longer run is reached on another."""
    recipient = await uow.directory.staff(row.recipient_id)
    if recipient is None or not recipient.active:
        await settle(uow, row, worker, outbox.SKIPPED, now, reason="recipient_inactive")
        return None
    if not await still_wanted(uow, row, policy, tz, now):
        await settle(uow, row, worker, outbox.SKIPPED, now, reason="no_longer_due")
        return None
    account = await uow.directory.account_for_staff(recipient.id, channels)  # one channel, never two
    if account is None:
        # Raised even if this person cannot be told: the dashboard lists it, and the level above is told.
        for item in await digest_members(uow, row, None, None, now) if row.kind == DIGEST else [row]:
            await raise_for(uow, item, now)
        elsewhere = channels is not None and await uow.directory.account_for_staff(recipient.id) is not None
        reason = "channel_not_configured" if elsewhere else "no_channel_account"
        await record_unreachable(uow, row, worker, reason, now=now, policy=policy, tz=tz)
        return None
    language = language_of(recipient, default=default_language)  # their choice, else their phone's
    names = {s.id: s.name for s in await _instead_names(uow, row)}
    if row.kind == DIGEST:
        members = await digest_members(uow, row, policy, tz, now)
        if not members:
            await settle(uow, row, worker, outbox.SKIPPED, now, reason="nothing_left")
            return None
        escalations = {m.id: e.id for m in members if (e := await raise_for(uow, m, now)) is not None}
        message = await digest_message(uow, row, members, tz, now, escalations)
        return Delivery(row, _address(account), language, message, members)
    case = await uow.cases.get(row.case_id) if row.case_id is not None else None
    label = await case_label(uow, case) if case is not None else ""
    if row.kind in (HOME_TEACHING_DUE, HOME_TEACHING_MISSED):
        label = await plan_label(uow, (row.payload or {}).get("plan"))
    message = teacher_message(row, label, tz, names, now)
    if (escalation := await raise_for(uow, row, now)) is not None:
        message.buttons.append(
            [(Msg("digest.button.acknowledge", {"n": ""}), Action("acknowledge", escalation.id))]
        )
    return Delivery(row, _address(account), language, message)


def _address(account: ChannelAccount) -> Address:
    return Address(account.channel, account.conversation)


async def _instead_names(uow: UnitOfWork, row: Reminder) -> list[Staff]:
    instead_of = (row.payload or {}).get("instead_of")
    staff = await uow.directory.staff(instead_of) if instead_of else None
    return [staff] if staff is not None else []


async def settle(
    uow: UnitOfWork,
    row: Reminder,
    worker: str,
    state: str,
    now: datetime,
    *,
    reason: str | None = None,
    message_id: str | None = None,
    members: list[Reminder] | None = None,
) -> bool:
    """Moves a claimed row (and a digest's items) to a final state and writes the timeline."""
    values: dict[str, Any] = {"state": state, "last_error": reason}
    if state == outbox.SENT:
        values.update(sent_at=now, sent_ref=message_id)
    if not await outbox.change(uow.session, row.id, when_state=outbox.CLAIMED, worker=worker, **values):
        return False  # lease lost: another worker owns the row now
    event = {
        outbox.SENT: "reminder_sent",
        outbox.FAILED: "reminder_failed",
        outbox.SKIPPED: "reminder_skipped",
        outbox.UNREACHABLE: "reminder_unreachable",
    }[state]
    if row.kind != DIGEST:
        await _timeline(uow, row, event, now, reason=reason, message_id=message_id, snoozes=row.snoozes)
    for member in members if members is not None else await digest_members(uow, row, None, None, now):
        await outbox.change(uow.session, member.id, when_state=outbox.BATCHED, **values)
        # Told to the level above: a missed step, or an item of someone who cannot be reached.
        above = member.kind == OVERDUE or bool((member.payload or {}).get("instead_of"))
        kind = "escalated" if state == outbox.SENT and above else event
        await _timeline(
            uow,
            member,
            kind,
            now,
            digest_id=row.id,
            level=(member.payload or {}).get("level"),
            reason=reason,
            message_id=message_id,
        )
    return True


async def record_sent(
    uow: UnitOfWork, delivery: Delivery, worker: str, message_id: str, now: datetime
) -> bool:
    for account in await uow.directory.accounts_of(delivery.row.recipient_id):
        if account.channel == delivery.to.channel and account.unreachable_since is not None:
            account.unreachable_since = None  # they can be reached again
    return await settle(
        uow, delivery.row, worker, outbox.SENT, now, message_id=message_id, members=delivery.members
    )


async def record_failure(
    uow: UnitOfWork,
    row: Reminder,
    worker: str,
    error: str,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    permanent: bool,
    extra_attempts: int = 0,
) -> bool:
    """A transient failure puts the row back with a growing pause; after max_attempts it is failed."""
    attempts = row.attempts + extra_attempts
    if permanent or attempts >= policy.reminders.max_attempts:
        if extra_attempts:
            await outbox.change(
                uow.session, row.id, when_state=outbox.CLAIMED, worker=worker, attempts=attempts
            )
        return await settle(uow, row, worker, outbox.FAILED, now, reason=error[:500])
    return await outbox.change(
        uow.session,
        row.id,
        when_state=outbox.CLAIMED,
        worker=worker,
        state=outbox.PENDING,
        claimed_by=None,
        claimed_at=None,
        attempts=attempts,
        last_error=error[:500],
        send_after=next_allowed(now + backoff(attempts, policy), policy, tz),
    )


async def release(uow: UnitOfWork, row: Reminder, worker: str) -> bool:
    """Gives a claimed row back untouched (e.g. the lease is about to run out before its turn)."""
    return await outbox.change(
        uow.session,
        row.id,
        when_state=outbox.CLAIMED,
        worker=worker,
        state=outbox.PENDING,
        claimed_by=None,
        claimed_at=None,
        attempts=max(0, row.attempts - 1),
    )


async def record_unreachable(
    uow: UnitOfWork,
    row: Reminder,
    worker: str,
    reason: str,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    blocked: bool = False,
    channel: str | None = None,
) -> list[int]:
    """The person blocked the app or has no chat account: mark it and tell whoever they answer
    to instead (in that person's digest). Returns the ids of the people told instead."""
    recipient = await uow.directory.staff(row.recipient_id)
    members = await digest_members(uow, row, None, None, now) if row.kind == DIGEST else []
    if not await settle(uow, row, worker, outbox.UNREACHABLE, now, reason=reason, members=members):
        return []
    if blocked:  # the account the message was meant for (their other channel, if any, is tried next time)
        account = await uow.directory.account_for_staff(
            row.recipient_id, None if channel is None else [channel]
        )
        if account is not None and account.unreachable_since is None:
            account.unreachable_since = now
    told: list[int] = []
    for item in members or [row]:
        if recipient is None:
            break
        case = await uow.cases.get(item.case_id) if item.case_id is not None else None
        for target in await escalation_target(uow, recipient, case):
            key = f"{item.dedupe_key}~to{target.id}"
            inserted = await outbox.insert_once(
                uow.session,
                kind=item.kind,
                case_id=item.case_id,
                recipient_id=target.id,
                due_at=now,
                send_after=next_allowed(now, policy, tz),
                dedupe_key=key[:200],
                channel=channel_for(target.role),
                payload={
                    **(item.payload or {}),
                    "base": base_key(item),
                    "instead_of": recipient.id,
                    "origin": item.id,
                },
                created_at=now,
            )
            if inserted:
                told.append(target.id)
        if item.case_id is not None and told:
            await _timeline(
                uow, item, "reminder_rerouted", now, told_instead=sorted(set(told)), reason=reason
            )
    return sorted(set(told))
