"""Every form the bot offers, by command name."""

from __future__ import annotations

from bot.conversations import absence, return_, rollcall, visit
from bot.conversations.form import Form

FORMS: list[Form] = [absence.FORM, visit.FORM, return_.FORM, rollcall.FORM]
