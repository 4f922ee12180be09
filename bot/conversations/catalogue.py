"""Every form the bot offers, by command name."""

from __future__ import annotations

from bot.conversations import absence
from bot.conversations.form import Form

FORMS: list[Form] = [absence.FORM]
