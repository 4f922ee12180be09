"""Turns the WeCom callbacks kept in the inbox into form answers and replies, in the web process.

The callback route stores a message and wakes the processor; at start-up it drains what a killed process
left. Each member's messages are handled one at a time in the order they were sent (members in turn);
each is applied by bot.conversations.apply (deduplicated by its update id, the reply kept beside it),
answered through message/send, and then forgotten from the inbox. A message whose reply could not be sent
stays, and is tried again (its kept reply is sent) on the next wake or after RETRY_AFTER seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from sqlalchemy.exc import SQLAlchemyError

from bot.conversations.apply import Applied, Arrival, InputServices, Replayed, apply_input, mark_delivered
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.keys import is_reminder_key
from bot.conversations.model import Command, Photo, Text
from bot.conversations.mycases import page_of
from bot.wecom import commands, inbound
from bot.wecom.api import WeComClient
from bot.wecom.commands import language_key
from bot.wecom.errors import UnreachableMember, WeComApiError, WeComUnavailable
from bot.wecom.inputs import to_input
from bot.wecom.onboarding import answer_unbound, bound_and_idle, help_for, redeem, speaker_of
from bot.wecom.prompts import CardOut, Outgoing, TextOut, messages_for
from bot.wecom.reminder_taps import dispatch_reminder_tap
from domain.photos.processing import MAX_DOWNLOAD_BYTES, PhotoRejected
from i18n import t

log = logging.getLogger(__name__)
RETRY_AFTER = 30.0
CHANNEL = inbound.CHANNEL


class WeComProcessor:
    """`wake()` after storing a callback; `start()` at start-up, `stop()` at shutdown."""

    def __init__(
        self, services: InputServices, client: WeComClient, conversations: Conversations, agent_id: int
    ) -> None:
        self.services, self.client, self.conversations, self.agent_id = (
            services, client, conversations, agent_id,
        )  # fmt: skip
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), RETRY_AFTER)
            self._wanted.clear()
            try:
                await self.drain()
            except SQLAlchemyError as exc:  # the rows stay: tried again on the next wake
                log.warning("wecom: inbox not read: %r", exc)

    async def drain(self) -> int:
        """Handles every waiting callback once; returns how many were handled (and forgotten)."""
        async with self.services.uow() as uow:
            waiting = await inbound.pending(uow, self.agent_id)
        by_member: defaultdict[str, list[inbound.Pending]] = defaultdict(list)
        for row in waiting:
            by_member[row.message.sender].append(row)
        handled = 0
        for rows in by_member.values():
            for row in rows:
                try:
                    await self.handle(row)
                except UnreachableMember:
                    log.info("wecom: a member cannot be written to; their message is dropped")
                except (WeComUnavailable, WeComApiError) as exc:
                    log.warning("wecom: reply not sent (%r); tried again later", exc)
                    break  # this member's later messages wait, so the replies keep their order
                except SQLAlchemyError as exc:  # the database: nothing was saved; the row is tried again
                    log.warning("wecom: callback %s not applied (%r); tried again later", row.update_id, exc)
                    break
                except Exception:  # a bug must not block this member, nor everyone after them, for good
                    # No message content in the log: it may hold children's personal information.
                    log.exception("wecom: callback %s failed", row.update_id)
                    await self._apologise(row.message.sender)
                async with self.services.uow() as uow:
                    await inbound.forget(uow, self.agent_id, [row.update_id])
                    await uow.commit()
                handled += 1
        return handled

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
            data = await self.client.download_media(photo.file_id)
        except WeComApiError:  # expired (after 3 days) or unknown media
            raise PhotoRejected(PhotoRejected.CORRUPT) from None
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise PhotoRejected(PhotoRejected.TOO_LARGE)
        return data
