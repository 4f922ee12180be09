"""Applies one input of any chat channel to the person's form: the use case every channel adapter calls.

One transaction per update: an update applied before answers with the reply kept beside it; otherwise
the account is identified, the engine runs, and the update is marked with its reply in the same
transaction (so a redelivered update changes nothing). Concurrent writers of one draft retry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import Command, FormContext, Input, Photo, Prompt
from bot.conversations.ports import FormServices, FormSettings
from bot.conversations.speakers import Speaker, speaker_of
from domain.audit import Actor
from domain.clock import Clock
from domain.people.scope import scope_for
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
ATTEMPTS = 3
# "Last active" is shown to the minute: writing it at most once a minute spares most steps an UPDATE.
ACTIVE_GRAIN = timedelta(minutes=1)


class InputSettings(FormSettings, Protocol):
    @property
    def default_language(self) -> str: ...


class InputServices(FormServices, Protocol):
    """What applying an input needs beyond the forms' own services."""

    @property
    def uow(self) -> UnitOfWorkFactory: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> InputSettings: ...


@dataclass(frozen=True)
class Arrival:
    """One update of a channel: its id (unique per channel and bot or app) and who sent it."""

    channel: str
    bot_id: int  # Telegram's bot id, WeCom's agent id
    update_id: int
    account: str  # the channel's user id
    conversation: str  # the chat (Telegram) or userid (WeCom) replies go to, for the audit label
    reported_language: str | None = None


@dataclass(frozen=True)
class Applied:
    """The input was applied (nothing is stored for an unbound speaker: `outcome` is then empty)."""

    speaker: Speaker
    outcome: Outcome


@dataclass(frozen=True)
class Replayed:
    """An update applied before, and what it was answered with then (None: nothing to show again)."""

    reply: dict[str, Any] | None


async def apply_input(
    services: InputServices,
    conversations: Conversations,
    arrival: Arrival,
    given: Input,
    fetch_media: Callable[[Photo], Awaitable[bytes]] | None = None,
) -> Applied | Replayed:
    """Who is writing and what their input does, in one transaction, with the reply kept beside the
    update's id; Replayed for an update seen before."""
    a = arrival
    for attempt in range(ATTEMPTS):
        try:
            async with services.uow() as uow:
                arrived = await uow.updates.arrival(
                    a.update_id, channel=a.channel, bot_id=a.bot_id, account=a.account
                )
                if arrived.seen:
                    return Replayed(await _still_current(uow, a))
                speaker = speaker_of(
                    arrived.binding,
                    arrived.staff,
                    reported=a.reported_language,
                    default=services.settings.default_language,
                )
                staff = speaker.staff
                if staff is None or speaker.account_id is None:
                    return Applied(speaker, Outcome())
                if arrived.draft is None:
                    uow.drafts.absent(speaker.account_id)
                now = services.clock.now()
                ctx = FormContext(
                    uow=uow,
                    services=services,
                    staff=staff,
                    scope=await scope_for(uow, staff, classes=arrived.class_ids),
                    actor=Actor(staff.id, f"{a.channel}:{a.conversation}", a.channel),
                    language=speaker.language,
                    now=now,
                    fetch_media=fetch_media,
                )
                outcome = await conversations.handle(ctx, speaker.account_id, given)
                if outcome.discard_changes:
                    await uow.session.rollback()
                elif staff.last_active_at is None or not now - ACTIVE_GRAIN < staff.last_active_at <= now:
                    staff.last_active_at = now
                if not outcome.handled:
                    key = "error.unknown_command" if isinstance(given, Command) else "error.not_understood"
                    outcome = Outcome([Prompt(speaker.text(key))])
                reply = {
                    "outcome": outcome.record(),
                    "received": speaker.text("form.received"),
                    "language": speaker.language,
                }
                await uow.updates.record(a.update_id, now, reply, channel=a.channel, bot_id=a.bot_id)
                await uow.commit()
                return Applied(speaker, outcome)
        except StaleDataError:
            log.info("draft changed concurrently; retrying update %s", a.update_id)
        except IntegrityError:
            async with services.uow() as uow:
                if await uow.updates.seen(a.update_id, channel=a.channel, bot_id=a.bot_id):
                    return Replayed(None)  # another worker applied it first, and answers it
            raise
        await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"update {a.update_id} kept conflicting")


async def mark_delivered(services: InputServices, channel: str, account: str) -> None:
    """The submitted form's confirmation reached the person (a later tap on its buttons then only says
    it was saved)."""
    async with services.uow() as uow:
        if (found := await uow.directory.account(channel, account)) is not None:
            await uow.drafts.mark_delivered(found.id)
            await uow.commit()


async def _still_current(uow: UnitOfWork, a: Arrival) -> dict[str, Any] | None:
    """The reply kept with an applied update, if the conversation has not moved on since (a later
    update's reply is the one to see; an older step shown after it would only mislead)."""
    reply = await uow.updates.reply(a.update_id, channel=a.channel, bot_id=a.bot_id)
    account = await uow.directory.account(a.channel, a.account)
    draft = await uow.drafts.get(account.id) if account is not None else None
    if reply is None or reply["outcome"]["seq"] != (draft.seq if draft is not None else 0):
        return None
    return reply
