"""Taps on reminder and digest buttons (`rm:` keys) that arrive from WeCom.

THE dispatch point for `rm:` keys on WeCom: the channel-neutral reminder-button logic (bot.actions, being
extracted from bot/handlers/reminders.py) is connected here at merge time. Until then the member is told
the button works on Telegram only; nothing is stored."""

from __future__ import annotations

from bot.conversations.speakers import Speaker


async def dispatch_reminder_tap(speaker: Speaker, key: str, *, update_id: int) -> str:
    """The answer to show for a tapped `rm:<action>:<id>[:ok|no]` button (`update_id` deduplicates)."""
    del key, update_id  # used once the neutral reminder actions are connected
    return speaker.text("wecom.reminder_buttons_later")
