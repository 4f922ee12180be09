"""The channel-neutral strings a button carries: Telegram's callback data and WeCom's card button keys
alike, so both channels decode a tap the same way."""

from __future__ import annotations

from bot.conversations.model import Command, Input, Tap

FORM_TAP = "f"  # f:<seq>:<value>  a form step's choice
START_FORM = "go"  # go:<form>:<id>  opens a form for a case (buttons in reminders and /mycases)
REMINDER_TAP = "rm"  # rm:<action>:<id>[:ok|no]  (buttons in reminders and digests)


def choice_key(seq: int, value: str) -> str:
    """The key of a step's choice; `seq` lets the engine recognise a stale or double-tapped button."""
    return f"{FORM_TAP}:{seq}:{value}"


def is_reminder_key(data: str) -> bool:
    return data.split(":", 1)[0] == REMINDER_TAP


def decode_key(data: str) -> Input:
    """A tapped button as a conversation input; unknown or forged data reads as a stale button."""
    parts = data.split(":", 2)
    if parts[0] == FORM_TAP and len(parts) == 3 and parts[1].isdigit():
        return Tap(int(parts[1]), parts[2])
    if parts[0] == START_FORM and len(parts) == 3:
        return Command(parts[1], (parts[2],))
    return Tap(-1, "")
