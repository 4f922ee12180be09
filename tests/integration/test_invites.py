"""Invite codes: single use, expiry, unknown codes, and binding chat accounts (one per channel)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.audit import Actor
from domain.clock import FixedClock
from domain.errors import InviteInvalid
from domain.people.invites import create_invite, hash_code, redeem_invite
from storage.models import Invite
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TTL = timedelta(hours=72)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory, pupils_per_class=1)


async def _invite(uow_factory: UnitOfWorkFactory, staff_id: int, clock: FixedClock) -> str:
    async with uow_factory() as uow:
        code = await create_invite(uow, staff_id, Actor.system("cli"), now=clock.now(), ttl=TTL)
        await uow.commit()
    return code


async def _redeem(uow_factory: UnitOfWorkFactory, code: str, tg: int, clock: FixedClock) -> int:
    async with uow_factory() as uow:
        staff = await redeem_invite(
            uow,
            code,
            channel="telegram",
            account=str(tg),
            conversation=str(tg),
            reported_language="zh",
            now=clock.now(),
        )
        await uow.commit()
        return staff.id


async def test_invite_binds_once_and_only_its_hash_is_stored(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    teacher = world.staff["teacher_a"]
    code = await _invite(uow_factory, teacher.id, clock)
    assert await _redeem(uow_factory, code, 5001, clock) == teacher.id
    async with uow_factory() as uow:
        binding = await uow.directory.account("telegram", str(5001))
        assert binding is not None and binding.staff_id == teacher.id
        invite = await uow.invites.by_hash(hash_code(code))
        assert invite is not None and invite.code_hash != code
    with pytest.raises(InviteInvalid, match="used"):
        await _redeem(uow_factory, code, 5002, clock)


async def test_expired_invite_binds_nothing(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    code = await _invite(uow_factory, world.staff["cadre_a"].id, clock)
    clock.advance(TTL + timedelta(seconds=1))
    with pytest.raises(InviteInvalid, match="expired"):
        await _redeem(uow_factory, code, 5003, clock)
    async with uow_factory() as uow:
        assert await uow.directory.account("telegram", str(5003)) is None


@pytest.mark.parametrize("code", ["nonsense-code-123", "../../etc", "x" * 200, ""])
async def test_unknown_invite_binds_nothing(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, code: str
) -> None:
    with pytest.raises(InviteInvalid, match="unknown"):
        await _redeem(uow_factory, code, 5004, clock)


async def test_one_telegram_account_cannot_hold_two_staff_records(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    await _redeem(uow_factory, await _invite(uow_factory, world.staff["teacher_a"].id, clock), 5005, clock)
    second = await _invite(uow_factory, world.staff["teacher_b"].id, clock)
    with pytest.raises(InviteInvalid, match="account_bound_elsewhere"):
        await _redeem(uow_factory, second, 5005, clock)


async def test_new_invite_moves_a_staff_member_to_a_new_account(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    staff_id = world.staff["principal"].id
    await _redeem(uow_factory, await _invite(uow_factory, staff_id, clock), 5006, clock)
    await _redeem(uow_factory, await _invite(uow_factory, staff_id, clock), 5007, clock)
    async with uow_factory() as uow:
        binding = await uow.directory.account_for_staff(staff_id)
        assert binding is not None and binding.account == "5007"
        assert await uow.directory.account("telegram", str(5006)) is None


async def test_invites_are_audited(uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock) -> None:
    code = await _invite(uow_factory, world.staff["teacher_b"].id, clock)
    await _redeem(uow_factory, code, 5008, clock)
    async with uow_factory() as uow:
        actions = [e.action for e in await uow.audit.entries()]
        assert "invite" in actions and "bind" in actions
        rows = await uow.session.scalars(__import__("sqlalchemy").select(Invite))
        assert all(len(r.code_hash) == 64 for r in rows)


async def test_a_person_may_be_bound_on_two_channels_and_is_messaged_on_one(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    """An invite on another channel adds an account; messages go to the reachable one bound last."""
    staff_id = world.staff["teacher_a"].id
    await _redeem(uow_factory, await _invite(uow_factory, staff_id, clock), 5010, clock)
    clock.advance(timedelta(minutes=5))
    async with uow_factory() as uow:
        code = await create_invite(uow, staff_id, Actor.system("cli"), now=clock.now(), ttl=TTL)
        await redeem_invite(
            uow, code, channel="wecom", account="li.laoshi", conversation="li.laoshi",
            reported_language=None, now=clock.now(),
        )  # fmt: skip
        await uow.commit()
    async with uow_factory() as uow:
        accounts = await uow.directory.accounts_of(staff_id)
        assert sorted((a.channel, a.account) for a in accounts) == [
            ("telegram", "5010"),
            ("wecom", "li.laoshi"),
        ]
        preferred = await uow.directory.account_for_staff(staff_id)
        assert preferred is not None and preferred.channel == "wecom"
        preferred.unreachable_since = clock.now()  # they left the WeCom app
        await uow.commit()
    async with uow_factory() as uow:
        fallback = await uow.directory.account_for_staff(staff_id)
        assert fallback is not None and fallback.channel == "telegram"
        # Another person cannot take the WeCom account.
        code = await create_invite(
            uow, world.staff["teacher_b"].id, Actor.system("cli"), now=clock.now(), ttl=TTL
        )
        with pytest.raises(InviteInvalid, match="account_bound_elsewhere"):
            await redeem_invite(
                uow, code, channel="wecom", account="li.laoshi", conversation="li.laoshi",
                reported_language=None, now=clock.now(),
            )  # fmt: skip
