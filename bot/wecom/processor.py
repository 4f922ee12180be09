"""Turns the WeCom callbacks kept in the inbox into form answers and replies, in the web process.

The callback route stores a message and wakes the processor; at start-up it drains what a killed process
left. Every web worker runs one, over the same inbox: each takes a member's oldest waiting message with a
claim (bot.wecom.claims), so a message is handled by one worker and a member's messages one at a time in
the order they were sent. Each is applied by bot.conversations.apply (deduplicated by its update id, the
reply kept beside it), answered through message/send, and then forgotten from the inbox. A message whose
reply could not be sent stays, and is tried again (its kept reply is sent) after a wait that doubles with
each failure; the member's later messages wait behind it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.conversations.apply import Applied, Arrival, InputServices, Replayed, apply_input, mark_delivered
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.keys import is_reminder_key
from bot.conversations.model import Command, Photo, Text
from bot.conversations.mycases import page_of
from bot.wecom import commands, inbound
from bot.wecom.api import WeComClient
from bot.wecom.claims import CLAIM_BATCH, CLAIM_FOR, IDLE_POLL, holder_name, renewed, retry_after
from bot.wecom.commands import language_key
from bot.wecom.errors import MediaTooLarge, UnreachableMember, WeComApiError, WeComUnavailable
from bot.wecom.inputs import to_input
from bot.wecom.onboarding import answer_unbound, bound_and_idle, help_for, redeem, speaker_of
from bot.wecom.prompts import CardOut, Outgoing, TextOut, messages_for
from bot.wecom.reminder_taps import dispatch_reminder_tap
from domain.photos.processing import MAX_DOWNLOAD_BYTES, PhotoRejected
from i18n import t

log = logging.getLogger(__name__)
CHANNEL = inbound.CHANNEL


class WeComProcessor:
    """`wake()` after storing a callback; `start()` at start-up, `stop()` at shutdown."""

    def __init__(
        self, services: InputServices, client: WeComClient, conversations: Conversations, agent_id: int
    ) -> None:
        self.services, self.client, self.conversations, self.agent_id = (
            services, client, conversations, agent_id,
        )  # fmt: skip
        self.holder = holder_name()
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Handles what is waiting soon (starts the loop on first use, so a server without a lifespan
        works too)."""
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="wecom-processor")

    async def start(self) -> None:
        """Drains the rows a previous process left, then waits for wakes."""
        self.wake()

    async def stop(self) -> None:
        """Stops, and lets the other workers take at once the rows this one was handling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with self.services.uow() as uow:
                await uow.inbox.release(channel=CHANNEL, bot_id=self.agent_id, holder=self.holder)
                await uow.commit()
        except SQLAlchemyError as exc:  # the claims lapse after CLAIM_FOR instead
            log.warning("wecom: claims not released: %r", exc)

    async def _run(self) -> None:
        while True:
            self._wanted.clear()
            wait = IDLE_POLL
            try:
                await self.drain()
                wait = await self._next_wait()
            except SQLAlchemyError as exc:  # the rows stay: tried again on the next wake
                log.warning("wecom: inbox not read: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), wait)

    async def _next_wait(self) -> float:
        """Seconds until a waiting row may be tried again or a claim lapses, at most IDLE_POLL."""
        async with self.services.uow() as uow:
            now = self.services.clock.now()
            due = await uow.inbox.next_due(channel=CHANNEL, bot_id=self.agent_id, after=now)
        return IDLE_POLL if due is None else min(max((due - now).total_seconds(), 0.01), IDLE_POLL)

    async def drain(self) -> int:
        """Handles every callback this processor can claim (members' oldest first, a batch of members at
        once); returns how many were handled (and forgotten)."""
        handled = 0
        while batch := await self._claim():
            async with renewed(self.services, self.agent_id, self.holder, [r.update_id for r in batch]):
                done = await asyncio.gather(*(self._one(row) for row in batch))  # one row per member
            handled += sum(done)
        return handled

    async def _claim(self) -> list[inbound.Pending]:
        async with self.services.uow() as uow:
            now = self.services.clock.now()
            rows = await inbound.claim(
                uow, self.agent_id, self.holder, now=now, until=now + CLAIM_FOR, limit=CLAIM_BATCH
            )
            await uow.commit()
        return rows

    async def _one(self, row: inbound.Pending) -> int:
        """Handles a claimed row; 1 once it is forgotten, 0 if it waits for another try."""
        try:
            await self.handle(row)
        except UnreachableMember:
            log.info("wecom: a member cannot be written to; their message is dropped")
        except (WeComUnavailable, WeComApiError, SQLAlchemyError) as exc:
            # WeCom did not take the reply, or the database saved nothing: tried again later, and this
            # member's later messages wait, so the replies keep their order.
            await self._defer(row, exc)
            return 0
        except Exception:  # a bug must not block this member, nor everyone after them, for good
            # No message content in the log: it may hold children's personal information.
            log.exception("wecom: callback %s failed", row.update_id)
            await self._apologise(row.message.sender)
        try:
            async with self.services.uow() as uow:
                await inbound.forget(uow, self.agent_id, [row.update_id])
                await uow.commit()
        except SQLAlchemyError as exc:  # handled again once the claim lapses: applied once, answered again
            log.warning("wecom: callback %s not forgotten (%r)", row.update_id, exc)
            return 0
        return 1

    async def _defer(self, row: inbound.Pending, exc: Exception) -> None:
        wait = retry_after(row.attempts + 1)
        log.warning("wecom: callback %s not answered (%r); tried again in %s", row.update_id, exc, wait)
        try:
            async with self.services.uow() as uow:
                until = self.services.clock.now() + wait
                await uow.inbox.defer(row.update_id, channel=CHANNEL, bot_id=self.agent_id, until=until)
                await uow.commit()
        except SQLAlchemyError as failed:  # tried again once the claim lapses instead
            log.warning("wecom: callback %s not deferred (%r)", row.update_id, failed)

    async def handle(self, row: inbound.Pending) -> None:
        """Applies one stored callback and sends its replies."""
        message, userid = row.message, row.message.sender
        given = to_input(message)
        if given is None:
            return
        if isinstance(message, inbound.CardTap):
            await self._answered(message)
            if is_reminder_key(message.event_key):  # reminder and digest buttons: not a form's
                speaker = await speaker_of(self.services, userid)
                reply = await dispatch_reminder_tap(
                    self.services,
                    speaker,
                    message.event_key,
                    userid=userid,
                    agent_id=self.agent_id,
                    update_id=row.update_id,
                )
                await self.client.send_text(userid, reply)
                return
        if await self._list_or_language(row, given):
            return
        if isinstance(given, Command) and given.name in ("start", "help"):
            speaker = await speaker_of(self.services, userid)
            if given.name == "start" and given.args:
                text = await redeem(
                    self.services,
                    speaker,
                    userid,
                    given.args[0],
                    update_id=row.update_id,
                    agent_id=self.agent_id,
                )
            else:
                text = help_for(speaker)
            await self.client.send_text(userid, text)
            return
        if isinstance(message, inbound.Text) and (
            bound := await bound_and_idle(self.services, userid, message.content)
        ):
            code = message.content.strip()
            text = await redeem(
                self.services, bound, userid, code, update_id=row.update_id, agent_id=self.agent_id
            )
            await self.client.send_text(userid, text)
            return
        arrival = Arrival(CHANNEL, self.agent_id, row.update_id, userid, userid)
        applied = await apply_input(self.services, self.conversations, arrival, given, self._fetch)
        if isinstance(applied, Replayed):
            if applied.reply is not None:
                language = applied.reply.get("language", self.services.settings.default_language)
                await self._show(userid, Outcome.from_record(applied.reply["outcome"]), language)
            return
        await self._answer(applied, userid, row.update_id, given)

    async def _list_or_language(self, row: inbound.Pending, given: object) -> bool:
        """/mycases (and its page buttons) and /language (and its buttons); False for anything else."""
        message, userid = row.message, row.message.sender
        key = message.event_key if isinstance(message, inbound.CardTap) else ""
        page = page_of(key)
        language = language_key(key)
        listing = page is not None or (isinstance(given, Command) and given.name == "mycases")
        choosing = language is not None or (isinstance(given, Command) and given.name == "language")
        if not (listing or choosing):
            return False
        speaker = await speaker_of(self.services, userid)
        if speaker.staff is None:
            await self.client.send_text(userid, speaker.text("wecom.unbound"))
        elif listing:
            out = await commands.my_cases(
                self.services, speaker, userid, page or 0, agent_id=self.agent_id, update_id=row.update_id
            )
            await self._send(userid, out)
        elif language is not None:
            text = await commands.choose_language(
                self.services, speaker, language, agent_id=self.agent_id, update_id=row.update_id
            )
            await self.client.send_text(userid, text)
        else:
            await self._send(userid, commands.language_choice(speaker))
        return True

    async def _send(self, userid: str, out: list[Outgoing]) -> None:
        for item in out:
            match item:
                case TextOut(text=text):
                    await self.client.send_text(userid, text)
                case CardOut(card=card):
                    await self.client.send_card(userid, card)

    async def _answer(self, applied: Applied, userid: str, update_id: int, given: object) -> None:
        speaker = applied.speaker
        if speaker.staff is None:
            text = speaker.text("wecom.unbound")
            if isinstance(given, Text):
                text = await answer_unbound(
                    self.services, speaker, userid, given.text, update_id=update_id, agent_id=self.agent_id
                )
            await self.client.send_text(userid, text)
            return
        await self._show(userid, applied.outcome, speaker.language)

    async def _show(self, userid: str, outcome: Outcome, language: str) -> None:
        await self._send(userid, messages_for(outcome, language))
        if outcome.confirms:
            try:
                await mark_delivered(self.services, CHANNEL, userid)
            except SQLAlchemyError as exc:  # at worst the confirmation is shown once more later
                log.info("wecom: receipt not marked delivered: %r", exc)

    async def _apologise(self, userid: str) -> None:
        """Tells the member something went wrong (as Telegram's error handler does); never raises."""
        try:
            speaker = await speaker_of(self.services, userid)
            await self.client.send_text(userid, speaker.text("error.generic"))
        except Exception:  # noqa: BLE001 - the apology itself must never raise
            log.warning("wecom: could not tell a member about a failed callback")

    async def _answered(self, tap: inbound.CardTap) -> None:
        """Greys the tapped card's buttons out, so it reads as answered (the response code works once)."""
        if not tap.response_code:
            return
        speaker = await speaker_of(self.services, tap.sender)
        try:
            await self.client.update_card_buttons(
                tap.sender, tap.response_code, t(speaker.language, "wecom.card_answered")
            )
        except WeComApiError as exc:  # used or expired already (a redelivered tap): the card stays
            log.info("wecom: card not updated: %r", exc)

    async def _fetch(self, photo: Photo) -> bytes:
        """A member's photo through media/get (WeCom tells no size before the download)."""
        try:
            return await self.client.download_media(photo.file_id, limit=MAX_DOWNLOAD_BYTES)
        except WeComApiError:  # expired (after 3 days) or unknown media
            raise PhotoRejected(PhotoRejected.CORRUPT) from None
        except MediaTooLarge:
            raise PhotoRejected(PhotoRejected.TOO_LARGE) from None
