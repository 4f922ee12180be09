"""/mycases and /language on WeCom: the same list and choice as on Telegram, as text and button cards.
Each is applied once per callback (the update log keeps the answer, so a redelivery shows it again)."""

from __future__ import annotations

import secrets
from typing import Any

from bot.conversations.apply import InputServices
from bot.conversations.model import FormContext
from bot.conversations.mycases import CasesPage, cases_page
from bot.conversations.speakers import Speaker
from bot.wecom.cards import MAX_BUTTONS, button_card
from bot.wecom.inbound import CHANNEL
from bot.wecom.prompts import CardOut, Outgoing, TextOut
from domain.audit import Actor
from domain.people.language import choose
from domain.people.scope import scope_for
from i18n import LANGUAGES, t

LANGUAGE_TAP = "lang"  # lang:<language>, as Telegram's /language buttons


def language_key(key: str) -> str | None:
    """The language a `lang:<language>` key chooses; None for any other key or an unknown language."""
    head, _, language = key.partition(":")
    return language if head == LANGUAGE_TAP and language in LANGUAGES else None


def language_choice(speaker: Speaker) -> list[Outgoing]:
    buttons = [(f"{LANGUAGE_TAP}:{lang}", t(lang, f"language.{lang}")) for lang in LANGUAGES]
    return [CardOut(button_card(_task_id(), speaker.text("language.choose"), buttons))]


async def choose_language(
    services: InputServices, speaker: Speaker, language: str, *, agent_id: int, update_id: int
) -> str:
    """Stores the person's choice (one for every channel: reminders, reports and the dashboard follow it)."""
    assert speaker.staff is not None
    async with services.uow() as uow:
        if await uow.updates.first(update_id, services.clock.now(), channel=CHANNEL, bot_id=agent_id):
            staff = await uow.directory.staff(speaker.staff.id)
            if staff is not None:
                choose(staff, language)
        await uow.commit()
    return t(language, "language.set")


async def my_cases(
    services: InputServices, speaker: Speaker, userid: str, page: int, *, agent_id: int, update_id: int
) -> list[Outgoing]:
    """A page of the person's open cases (bot.conversations.mycases), the view audited once."""
    assert speaker.staff is not None
    async with services.uow() as uow:
        now = services.clock.now()
        if not await uow.updates.first(update_id, now, channel=CHANNEL, bot_id=agent_id):
            kept = await uow.updates.reply(update_id, channel=CHANNEL, bot_id=agent_id)
            return _outgoing(CasesPage(kept["text"], kept["buttons"]), speaker) if kept else []
        staff = await uow.directory.staff(speaker.staff.id)
        if staff is None or not staff.active:
            return [TextOut(speaker.text("wecom.unbound"))]
        ctx = FormContext(
            uow=uow,
            services=services,
            staff=staff,
            scope=await scope_for(uow, staff),
            actor=Actor(staff.id, f"{CHANNEL}:{userid}", CHANNEL),
            language=speaker.language,
            now=now,
        )
        shown = await cases_page(ctx, page)
        reply: dict[str, Any] = {"text": shown.text, "buttons": shown.buttons}
        await uow.updates.keep_reply(update_id, reply, channel=CHANNEL, bot_id=agent_id)
        await uow.commit()
    return _outgoing(shown, speaker)


def _outgoing(page: CasesPage, speaker: Speaker) -> list[Outgoing]:
    """The list as text, then its buttons on cards of at most six."""
    buttons = [(key, label) for row in page.buttons for label, key in row]
    parts = [buttons[i : i + MAX_BUTTONS] for i in range(0, len(buttons), MAX_BUTTONS)]
    cards: list[Outgoing] = [
        CardOut(button_card(_task_id(), speaker.text("wecom.choose"), part)) for part in parts
    ]
    return [TextOut(page.text), *cards]


def _task_id() -> str:
    """Unique per app, as WeCom requires (letters, digits, _-@; at most 128 bytes)."""
    return f"nol_list_{secrets.token_hex(8)}"
