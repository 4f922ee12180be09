"""The simulator's list of demo staff: who can be impersonated, with a fresh invite for the unbound."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.container import Services
from domain.audit import Actor
from domain.people.invites import create_invite
from domain.people.language import language_of
from domain.people.roles import ROLE_LABELS, Role
from storage.uow import UnitOfWork

# Fictional Telegram user ids for demo staff: far from real ranges, easy to recognise.
DEMO_USER_ID_BASE = 7_000_000
WECOM = "wecom"  # the channel name of WeCom accounts (bot.wecom.inbound.CHANNEL)


def demo_wecom_userid(staff_id: int) -> str:
    """The fictional WeCom userid of a demo staff member not yet bound on WeCom."""
    return f"demo-{staff_id}"


class DemoPeople:
    """Lists staff for the simulator; only ever wired in demo mode (DEMO=true: no bot token, loopback only,
    demo data only). With `wecom` (the demo's WeCom emulator runs) each person also has a WeCom userid and,
    while unbound there, an invite code of their own to send as text."""

    def __init__(self, services: Services, *, wecom: bool = False) -> None:
        self.services = services
        self.wecom = wecom
        self._payloads: dict[tuple[str, int], str] = {}

    async def _invite(self, uow: UnitOfWork, channel: str, staff_id: int) -> str:
        """One invite per channel and person, kept for this process: an invite binds once."""
        payload = self._payloads.get((channel, staff_id))
        if payload is None:
            s = self.services
            payload = await create_invite(
                uow,
                staff_id,
                Actor.system("demo"),
                now=s.clock.now(),
                ttl=timedelta(hours=s.settings.invite_ttl_hours),
            )
            self._payloads[(channel, staff_id)] = payload
        return payload

    async def __call__(self) -> list[dict[str, Any]]:
        s = self.services
        people: list[dict[str, Any]] = []
        async with s.uow() as uow:
            for staff in await uow.directory.all_staff():
                if not staff.active:
                    continue
                accounts = {a.channel: a for a in await uow.directory.accounts_of(staff.id)}
                binding = accounts.get("telegram")
                user_id = int(binding.account) if binding else DEMO_USER_ID_BASE + staff.id
                zh, en = ROLE_LABELS[Role(staff.role)]
                person: dict[str, Any] = {
                    "telegram_user_id": user_id,
                    "name": staff.name,
                    "role_label": f"{zh} {en}",
                    # The simulated phone speaks the person's language (domain.people.language).
                    "language": "en" if language_of(staff, default=s.default_language) == "en" else "zh-hans",
                    "start_payload": None if binding else await self._invite(uow, "telegram", staff.id),
                }
                if self.wecom:
                    member = accounts.get(WECOM)
                    person["wecom_userid"] = member.account if member else demo_wecom_userid(staff.id)
                    person["wecom_code"] = None if member else await self._invite(uow, WECOM, staff.id)
                people.append(person)
            await uow.commit()
        return people
