"""Due reminders for drills against real scheduler processes (which use the real clock and plan at start)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.container import Services
from sandbox.emulator import Emulator
from sandbox.state import BotState
from storage.models import ChannelAccount, Reminder
from tests.factories import World, add_absent_caseload

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "domain" / "policy_default.toml"


def policy_without_quiet_hours(folder: Path) -> Path:
    """The shipped policy with a one-minute quiet period, so drills can send at any hour of the day."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    text = text.replace('start = "21:00"\nend = "07:30"', 'start = "03:00"\nend = "03:01"')
    assert 'start = "03:00"' in text, "the [quiet_hours] section of the default policy changed"
    path = folder / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def due_reminders(
    services: Services, emulator: Emulator, tg_bot: BotState, world: World, *, teachers: int, per_teacher: int
) -> list[int]:
    """Teachers linked to started emulator chats, each with `per_teacher` cases whose first visit became
    due an hour ago (no reminder rows: the scheduler plans them at start). Returns the chat ids."""
    now = services.clock.now()
    opened = now - services.policy.first_visit_due - timedelta(hours=1)
    chats = []
    async with services.uow() as uow:
        staff, _ = await add_absent_caseload(
            uow, world, teachers=teachers, per_teacher=per_teacher, tag="R", opened=opened
        )
        for member in staff:
            user = emulator.create_user(first_name=member.name, language_code="zh-hans")
            emulator.registry.chat(emulator.bot(tg_bot.token), user["id"]).started = True
            uow.session.add(
                ChannelAccount(
                    staff_id=member.id,
                    channel="telegram",
                    account=str(user["id"]),
                    conversation=str(user["id"]),
                    bound_at=now,
                )
            )
            chats.append(int(user["id"]))
        await uow.commit()
    return chats


async def sent_counts(services: Services) -> Counter[str]:
    """Reminder rows by state."""
    async with services.uow() as uow:
        rows = await uow.session.execute(select(Reminder.state, func.count()).group_by(Reminder.state))
        return Counter({state: int(n) for state, n in rows})


def bot_messages(emulator: Emulator, tg_bot: BotState, chat_id: int) -> list[str]:
    chat = emulator.registry.chat(emulator.bot(tg_bot.token), chat_id)
    return [m.data.get("text", "") for _, m in sorted(chat.messages.items()) if m.from_bot]
