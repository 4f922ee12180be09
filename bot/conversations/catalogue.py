"""Every form the bot offers, by command name."""

from __future__ import annotations

from bot.conversations import absence, homeschool, return_, rollcall, visit
from bot.conversations.form import Form
from domain.people.roles import DASHBOARD_ROLES, ROLE_LABELS, Role
from i18n import t

FORMS: list[Form] = [absence.FORM, visit.FORM, return_.FORM, rollcall.FORM, homeschool.FORM]

# Commands every bound person may use, after the forms of their role.
COMMON_COMMANDS = ("mycases", "language", "cancel", "help")


def commands_for(role: Role) -> list[str]:
    """The commands a role can use, in menu order: its forms, then the common ones."""
    return [f.name for f in FORMS if role in f.roles] + list(COMMON_COMMANDS)


def role_label(language: str, role: str) -> str:
    zh, en = ROLE_LABELS[Role(role)]
    return zh if language == "zh_CN" else en


def help_text(language: str, role: Role) -> str:
    """Only the commands the role can use; coordinators also hear of the dashboard."""
    lines = [t(language, "help.header")] + [t(language, f"help.{name}") for name in commands_for(role)]
    if role in DASHBOARD_ROLES:
        lines += ["", t(language, "help.dashboard")]
    return "\n".join([*lines, "", t(language, "help.privacy")])
