"""The staff sheet's 企业微信账号 column pre-binds people on the roster's chat channel (issue 14), on
SQLite and PostgreSQL: bound at import, replaced by a newer file, kept when the cell is empty, refused when
another person holds the account, and rejected when malformed or repeated."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from domain.audit import Actor
from domain.clock import FixedClock
from domain.roster.importer import RosterInvalid, import_roster
from storage.uow import UnitOfWorkFactory
from tests.fixtures.roster import good_sheets, write_xlsx

ACTOR = Actor.system("cli")
CHANNEL = "wecom"


def with_accounts(accounts: Mapping[int, str | None]) -> dict[str, Any]:
    """The good roster with the account column; `accounts` maps a staff row (1 = first person) to a UserID."""
    sheets = copy.deepcopy(good_sheets())
    staff = sheets["教职工"]
    staff[0].append("企业微信账号")
    for number, row in enumerate(staff[1:], 1):
        row.append(accounts.get(number))
    return sheets


async def _import(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, path: Path, channel: str | None = CHANNEL
):
    return await import_roster(uow_factory, [path], now=clock.now(), actor=ACTOR, account_channel=channel)


async def _bound(uow_factory: UnitOfWorkFactory, phone: str) -> list[tuple[str, str, str]]:
    async with uow_factory() as uow:
        person = await uow.directory.staff_by_phone(phone)
        assert person is not None
        return sorted(
            (a.channel, a.account, a.conversation) for a in await uow.directory.accounts_of(person.id)
        )


async def test_accounts_are_bound_at_import_and_replaced_by_a_newer_file(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    first = with_accounts({1: "zhang.laoshi", 4: "principal_01"})
    summary = await _import(uow_factory, clock, write_xlsx(tmp_path / "a.xlsx", first))
    assert summary.created["staff"] == 7
    assert await _bound(uow_factory, "13800000001") == [(CHANNEL, "zhang.laoshi", "zhang.laoshi")]
    assert await _bound(uow_factory, "13800000004") == [(CHANNEL, "principal_01", "principal_01")]
    assert await _bound(uow_factory, "13800000002") == []
    async with uow_factory() as uow:
        binds = await uow.audit.entries("bind")
        assert len(binds) == 2 and {e.detail["source"] for e in binds} == {"roster"}

    again = await _import(uow_factory, clock, write_xlsx(tmp_path / "b.xlsx", first))
    assert again.updated["staff"] == 0  # the same accounts change nothing

    newer = with_accounts({1: "zhang.new", 4: None})  # a new account; an empty cell keeps the old one
    summary = await _import(uow_factory, clock, write_xlsx(tmp_path / "c.xlsx", newer))
    assert summary.updated["staff"] == 1
    assert await _bound(uow_factory, "13800000001") == [(CHANNEL, "zhang.new", "zhang.new")]
    assert await _bound(uow_factory, "13800000004") == [(CHANNEL, "principal_01", "principal_01")]


async def test_an_account_held_by_someone_else_refuses_the_whole_file(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    await _import(uow_factory, clock, write_xlsx(tmp_path / "a.xlsx", with_accounts({1: "shared"})))
    clash = with_accounts({2: "shared"})
    clash["教职工"][1][0] = "改名的老师甲"  # a change that must not be written either
    with pytest.raises(RosterInvalid) as caught:
        await _import(uow_factory, clock, write_xlsx(tmp_path / "b.xlsx", clash))
    assert [(p.row, p.column) for p in caught.value.problems] == [(3, "企业微信账号")]
    assert "另一名教职工" in caught.value.problems[0].message
    async with uow_factory() as uow:
        first = await uow.directory.staff_by_phone("13800000001")
        assert first is not None and first.name == "测试老师甲"
    assert await _bound(uow_factory, "13800000002") == []


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ({1: "-starts-with-dash"}, [(2, "企业微信账号")]),
        ({1: "has space"}, [(2, "企业微信账号")]),
        ({1: "twice", 2: "twice"}, [(3, "企业微信账号")]),
    ],
)
async def test_malformed_or_repeated_accounts_are_problems(
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
    tmp_path: Path,
    accounts: dict[int, str],
    expected: list[tuple[int, str]],
) -> None:
    with pytest.raises(RosterInvalid) as caught:
        await _import(uow_factory, clock, write_xlsx(tmp_path / "r.xlsx", with_accounts(accounts)))
    assert [(p.row, p.column) for p in caught.value.problems] == expected
    async with uow_factory() as uow:  # nothing was written
        assert await uow.directory.staff_by_phone("13800000001") is None


async def test_accounts_without_a_channel_are_refused(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    with pytest.raises(RosterInvalid) as caught:
        await _import(
            uow_factory, clock, write_xlsx(tmp_path / "r.xlsx", with_accounts({1: "a1"})), channel=None
        )
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "企业微信账号")]
