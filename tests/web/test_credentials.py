"""Credentials end when they should: revoked, expired and disabled tokens get 401 from /api/v1, and a
changed password or a disabled login ends the sessions already open."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from domain.audit import Actor
from domain.clock import FixedClock
from domain.people.credentials import change_password, disable_login, enable_login, list_tokens, revoke_token
from domain.people.webauth import API_TOKEN_TTL, NoDashboardAccess, create_api_token
from storage.uow import UnitOfWorkFactory
from storage.webaccess import WebAccessRepository
from tests.web.conftest import login
from tests.web.county import PASSWORD, County
from web.deps import SESSION_COOKIE

ADMIN = Actor.system("test")


async def bearer(
    uow_factory: UnitOfWorkFactory,
    county: County,
    clock: FixedClock,
    key: str,
    ttl: timedelta = API_TOKEN_TTL,
) -> dict[str, str]:
    async with uow_factory() as uow:
        token = await create_api_token(uow, county.staff[key], f"{key}-bi", now=clock.now(), ttl=ttl)
        await uow.commit()
    return {"Authorization": f"Bearer {token}"}


async def test_a_revoked_token_gets_401(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    headers = await bearer(uow_factory, county, clock, "principal")
    assert (await client.get("/api/v1/cases", headers=headers)).status_code == 200
    async with uow_factory() as uow:
        (token,) = await list_tokens(uow, clock.now())
        assert await revoke_token(uow, token.id, now=clock.now(), actor=ADMIN)
        await uow.commit()
    assert (await client.get("/api/v1/cases", headers=headers)).status_code == 401


async def test_a_token_works_until_it_expires(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    default = await bearer(uow_factory, county, clock, "principal")
    short = await bearer(uow_factory, county, clock, "county", ttl=timedelta(days=7))
    clock.advance(timedelta(days=7))
    assert (await client.get("/api/v1/cases", headers=short)).status_code == 401
    assert (await client.get("/api/v1/cases", headers=default)).status_code == 200
    clock.advance(timedelta(days=83))  # 90 days after creation: the default lifetime
    assert (await client.get("/api/v1/cases", headers=default)).status_code == 401
    async with uow_factory() as uow:
        assert {t.state for t in await list_tokens(uow, clock.now())} == {"expired"}


async def test_disabling_a_login_ends_its_sessions_and_its_tokens(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    headers = await bearer(uow_factory, county, clock, "principal")
    await login(client, "principal")
    copied = client.cookies[SESSION_COOKIE]
    assert (await client.get("/dashboard")).status_code == 200
    async with uow_factory() as uow:
        ended = await disable_login(uow, "principal", now=clock.now(), actor=ADMIN)
        await uow.commit()
    assert (ended.sessions, ended.tokens) == (1, 1)
    client.cookies.set(SESSION_COOKIE, copied)
    assert (await client.get("/dashboard")).status_code == 303
    assert (await client.get("/api/v1/cases", headers=headers)).status_code == 401
    assert (await login(client, "principal")).status_code != 303
    # Enabled again: the password works, the revoked token stays revoked.
    async with uow_factory() as uow:
        await enable_login(uow, "principal", now=clock.now(), actor=ADMIN)
        await uow.commit()
    assert (await login(client, "principal")).status_code == 303
    assert (await client.get("/api/v1/cases", headers=headers)).status_code == 401


async def test_a_login_disabled_by_hand_stops_its_staff_members_tokens(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    """Logins switched off with SQL before this command existed leave their tokens unrevoked: the token
    is still refused, and no new one can be made for that person."""
    headers = await bearer(uow_factory, county, clock, "township")
    async with uow_factory() as uow:
        user = await WebAccessRepository(uow.session).user_by_username("township")
        assert user is not None
        user.active = False
        await uow.commit()
    assert (await client.get("/api/v1/cases", headers=headers)).status_code == 401
    with pytest.raises(NoDashboardAccess):
        await bearer(uow_factory, county, clock, "township")


async def test_a_staff_member_who_left_has_no_api_access(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    headers = await bearer(uow_factory, county, clock, "county")
    async with uow_factory() as uow:
        staff = await uow.directory.staff(county.staff["county"].id)
        assert staff is not None
        staff.active = False
        await uow.commit()
    assert (await client.get("/api/v1/cases", headers=headers)).status_code == 401


async def test_a_new_password_ends_every_open_session(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    await login(client, "admin")
    copied = client.cookies[SESSION_COOKIE]
    async with uow_factory() as uow:
        ended = await change_password(uow, "admin", "a brand new passphrase", now=clock.now(), actor=ADMIN)
        await uow.commit()
    assert ended.sessions == 1
    client.cookies.set(SESSION_COOKIE, copied)
    assert (await client.get("/dashboard")).status_code == 303
    assert (await login(client, "admin", PASSWORD)).status_code != 303
    assert (await login(client, "admin", "a brand new passphrase")).status_code == 303
