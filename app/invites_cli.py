"""Invite creation for the CLI: resolves staff, creates codes, formats deep links."""

from __future__ import annotations

from datetime import timedelta

from app.container import Services
from bot.messenger import deep_link
from domain.audit import Actor
from domain.errors import NotFound
from domain.people.invites import create_invite
from domain.privacy.identity import mask_phone


async def bot_username(services: Services) -> str:
    """The bot's @username: from settings, or asked from the Bot API (getMe)."""
    s = services.settings
    if s.telegram_bot_username:
        return s.telegram_bot_username
    if not s.token:
        return s.demo_bot_username
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.get(f"{s.telegram_api_base_url}{s.token}/getMe")
        reply.raise_for_status()
        return str(reply.json()["result"]["username"])


async def make_invites(services: Services, who: list[str], all_unbound: bool, ttl: timedelta) -> list[str]:
    """One line per invite: staff id, masked phone, name, link."""
    username = await bot_username(services)
    lines = []
    async with services.uow() as uow:
        people = list(await uow.directory.unbound_staff()) if all_unbound else []
        for key in who:
            person = await uow.directory.staff_by_phone(key)
            if person is None and key.isdigit() and len(key) < 11:
                person = await uow.directory.staff(int(key))
            if person is None:
                raise NotFound(f"no staff member with phone or id {key}")
            people.append(person)
        for person in people:
            code = await create_invite(uow, person.id, Actor.system("cli"), now=services.clock.now(), ttl=ttl)
            lines.append(
                f"{person.id}\t{mask_phone(person.phone)}\t{person.name}\t{deep_link(username, code)}"
            )
        await uow.commit()
    return lines
