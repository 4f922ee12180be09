"""An outcome's prompts as WeCom messages: text, and a step's choices as button cards of at most six
buttons (more choices: several cards, the choices numbered "1. …" so the member may type the number
instead of scrolling to the button; bot.conversations.engine reads it). Button keys are the channel-neutral strings of
bot.conversations.keys; a reply-keyboard label (e.g. "Skip" beside a location request) becomes a button
that stands for typing it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from bot.conversations.engine import Outcome
from bot.conversations.keys import choice_key
from bot.conversations.model import Prompt
from bot.conversations.steps import NAV_PREFIX
from bot.wecom.cards import MAX_BUTTONS, button_card
from bot.wecom.inputs import TYPED_KEY
from i18n import t

TITLE_MAX = 36  # characters a card's main title shows; a longer prompt goes first as a text message


@dataclass(frozen=True)
class TextOut:
    text: str


@dataclass(frozen=True)
class CardOut:
    card: dict[str, Any]


Outgoing = TextOut | CardOut


def messages_for(outcome: Outcome, language: str) -> list[Outgoing]:
    """What to send for the outcome, in order: a tap's short answer (WeCom has no toast), then each
    prompt."""
    out: list[Outgoing] = [TextOut(outcome.toast)] if outcome.toast else []
    for prompt in outcome.prompts:
        out += _prompt(prompt, outcome.seq, language)
    return out


def _prompt(prompt: Prompt, seq: int, language: str) -> list[Outgoing]:
    choices = [c for row in prompt.buttons for c in row]
    text = prompt.text
    if prompt.request_location:
        text = f"{text}\n{t(language, 'wecom.share_location_hint')}"
    numbered = len(choices) + len(prompt.extra_keys) > MAX_BUTTONS
    if numbered and any(not c.value.startswith(NAV_PREFIX) for c in choices):
        text = f"{text}\n{t(language, 'wecom.type_number_hint')}"
    buttons, number = [], 0
    for choice in choices:
        label = choice.label
        if numbered and not choice.value.startswith(NAV_PREFIX):  # answers, not page turns or Done
            number += 1
            label = f"{number}. {label}"
        buttons.append((choice_key(seq, choice.value), label))
    buttons += [(TYPED_KEY + label, label) for label in prompt.extra_keys]
    if not buttons:
        return [TextOut(text)]
    parts = [buttons[i : i + MAX_BUTTONS] for i in range(0, len(buttons), MAX_BUTTONS)]
    short = len(parts) == 1 and "\n" not in text and len(text) <= TITLE_MAX
    out: list[Outgoing] = [] if short else [TextOut(text)]
    for number, part in enumerate(parts, 1):
        if short:
            title = text
        elif len(parts) == 1:
            title = t(language, "wecom.choose")
        else:
            title = t(language, "wecom.choose_part", part=number, parts=len(parts))
        out.append(CardOut(button_card(_task_id(seq), title, part)))
    return out


def _task_id(seq: int) -> str:
    """Unique per app, as WeCom requires (letters, digits, _-@; at most 128 bytes)."""
    return f"nol_{seq}_{secrets.token_hex(8)}"
