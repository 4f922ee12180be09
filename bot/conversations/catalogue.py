"""Every form the bot offers, by command name."""

from __future__ import annotations

from bot.conversations import absence, homeschool, return_, rollcall, visit
from bot.conversations.form import Form
from domain.people.roles import Role

FORMS: list[Form] = [absence.FORM, visit.FORM, return_.FORM, rollcall.FORM, homeschool.FORM]

# Commands every bound person may use, after the forms of their role.
COMMON_COMMANDS = ("mycases", "language", "cancel", "help")


def commands_for(role: Role) -> list[str]:
    """The commands a role can use, in menu order: its forms, then the common ones."""
    return [f.name for f in FORMS if role in f.roles] + list(COMMON_COMMANDS)
