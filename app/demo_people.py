"""The simulator's list of demo staff: who can be impersonated, with a fresh invite for the unbound."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.container import Services
from domain.audit import Actor
from domain.people.invites import create_invite
from domain.people.language import language_of
from domain.people.roles import ROLE_LABELS, Role

# Fictional Telegram user ids for demo staff: far from real ranges, easy to recognise.
DEMO_USER_ID_BASE = 7_000_000


class DemoPeople:
    """Lists staff for the simulator; only ever wired in demo mode (DEMO=true: no bot token, loopback only, demo data only)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._payloads: dict[int, str] = {}

    async def __call__(self) -> list[dict[str, Any]]:
        s = self.services
        people: list[dict[str, Any]] = []
        async with s.uow() as uow:
            for staff in await uow.directory.all_staff():
                if not staff.active:
                    continue
                binding = next(
                    (a for a in await uow.directory.accounts_of(staff.id) if a.channel == "telegram"), None
                )
                user_id = int(binding.account) if binding else DEMO_USER_ID_BASE + staff.id
                payload = None
                if binding is None:
                    payload = self._payloads.get(staff.id)
                    if payload is None:
                        payload = await create_invite(
                            uow,
                            staff.id,
                            Actor.system("demo"),
                            now=s.clock.now(),
                            ttl=timedelta(hours=s.settings.invite_ttl_hours),
                        )
                        self._payloads[staff.id] = payload
                zh, en = ROLE_LABELS[Role(staff.role)]
                people.append(
                    {
                        "telegram_user_id": user_id,
                        "name": staff.name,
                        "role_label": f"{zh} {en}",
                        # The simulated phone speaks the person's language (domain.people.language).
                        "language": "en"
                        if language_of(staff, default=s.default_language) == "en"
                        else "zh-hans",
                        "start_payload": payload,
                    }
                )
            await uow.commit()
        return people
