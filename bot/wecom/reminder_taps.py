"""Taps on reminder and digest buttons (`rm:` keys) that arrive from WeCom: the same channel-neutral
actions as Telegram's (bot.actions), applied once per tap (the update log keeps the answer, so a
redelivered callback answers again and changes nothing)."""

from __future__ import annotations

from bot.actions import apply_reminder_action, reminder_action
from bot.conversations.apply import InputServices
from bot.conversations.speakers import Speaker
from bot.wecom.inbound import CHANNEL
from domain.audit import Actor


async def dispatch_reminder_tap(
    services: InputServices, speaker: Speaker, key: str, *, userid: str, agent_id: int, update_id: int
) -> str:
    """The answer to show for a tapped `rm:<action>:<id>[:ok|no]` button of a bound member."""
    action = reminder_action(key)
    if speaker.staff is None or action is None:
        return speaker.text("wecom.unbound" if speaker.staff is None else "error.not_understood")
    async with services.uow() as uow:
        staff = await uow.directory.staff(speaker.staff.id)
        if staff is None or not staff.active:
            return speaker.text("wecom.unbound")
        now = services.clock.now()
        if not await uow.updates.first(update_id, now, channel=CHANNEL, bot_id=agent_id):
            kept = await uow.updates.reply(update_id, channel=CHANNEL, bot_id=agent_id)
            return (
                str(kept["answer"]) if kept and kept.get("answer") else speaker.text("error.not_understood")
            )
        answer = await apply_reminder_action(
            uow,
            staff,
            Actor(staff.id, f"{CHANNEL}:{userid}", CHANNEL),
            action,
            language=speaker.language,
            now=now,
            policy=services.policy,
            tz=services.tz,
        )
        if answer.keep:
            await uow.updates.keep_reply(update_id, {"answer": answer.text}, channel=CHANNEL, bot_id=agent_id)
            await uow.commit()
        return answer.text
