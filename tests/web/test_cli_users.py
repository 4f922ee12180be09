"""`notoneless user …` and `notoneless user token …` against real databases: logins and tokens from
creation to revocation, every change audited, no password on the command line and no hash printed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from domain.clock import SystemClock
from domain.people.webauth import LoginRefused, identify_session, identify_token, login
from storage.db import make_engine, make_sessionmaker
from storage.models import AuditEntry
from storage.uow import UnitOfWorkFactory
from tests.factories import build_world

runner = CliRunner()
T = TypeVar("T")


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    asyncio.run(_in_db(database_url, lambda f: build_world(f, pupils_per_class=1)))
    yield database_url
    get_settings.cache_clear()


async def _in_db(url: str, work: Callable[[UnitOfWorkFactory], Awaitable[T]]) -> T:
    engine = make_engine(url)
    try:
        return await work(UnitOfWorkFactory(make_sessionmaker(engine)))
    finally:
        await engine.dispose()


async def _login(factory: UnitOfWorkFactory, username: str, password: str) -> str:
    async with factory() as uow:
        _token, identity = await login(uow, username, password, now=SystemClock().now(), ip=None)
        await uow.commit()
    return identity.staff.phone


async def _token_owner(factory: UnitOfWorkFactory, token: str) -> str | None:
    async with factory() as uow:
        identity = await identify_token(uow, token, SystemClock().now())
        return identity.staff.phone if identity else None


def test_user_add_reads_the_password_from_stdin(env: str) -> None:
    result = runner.invoke(
        cli,
        ["user", "add", "chen", "--staff", "13800000004", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "chen" in result.output and "138****0004" in result.output
    assert asyncio.run(_in_db(env, lambda f: _login(f, "chen", "a long enough password"))) == "13800000004"
    again = runner.invoke(
        cli,
        ["user", "add", "chen", "--staff", "13800000007", "--password-stdin"],
        input="a long enough password\n",
    )
    assert again.exit_code == 1 and "The username chen is taken." in again.output
    assert "用户名 chen 已被使用" in again.output


def test_user_add_prompts_twice_and_refuses_teachers(env: str) -> None:
    result = runner.invoke(
        cli,
        ["user", "add", "zhou", "--staff", "13800000007", "--export-pii"],
        input="another good password\nanother good password\n",
    )
    assert result.exit_code == 0 and "with PII export" in result.output
    teacher = runner.invoke(
        cli,
        ["user", "add", "wang", "--staff", "13800000001", "--password-stdin"],
        input="a long enough password\n",
    )
    assert teacher.exit_code == 1 and "no dashboard access" in teacher.output


def test_user_token_is_printed_once_and_works(env: str) -> None:
    result = runner.invoke(cli, ["user", "token", "create", "--staff", "13800000008", "--name", "county-bi"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("nol_")
    assert "Valid until" in result.stderr and "cannot be shown again" in result.stderr
    assert asyncio.run(_in_db(env, lambda f: _token_owner(f, token))) == "13800000008"


async def _open_session(factory: UnitOfWorkFactory, username: str, password: str) -> str:
    async with factory() as uow:
        cookie, _identity = await login(uow, username, password, now=SystemClock().now(), ip=None)
        await uow.commit()
    return cookie


async def _session_alive(factory: UnitOfWorkFactory, cookie: str) -> bool:
    async with factory() as uow:
        return await identify_session(uow, cookie, SystemClock().now()) is not None


async def _can_log_in(factory: UnitOfWorkFactory, username: str, password: str) -> bool:
    try:
        await _open_session(factory, username, password)
    except LoginRefused:
        return False
    return True


async def _audit(factory: UnitOfWorkFactory) -> list[tuple[str, str, str, dict[str, object]]]:
    async with factory() as uow:
        rows = await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.actor_label, r.action, r.entity, r.detail) for r in rows]


def _in(env: str, work: Callable[[UnitOfWorkFactory], Awaitable[T]]) -> T:
    return asyncio.run(_in_db(env, work))


def _add(username: str, phone: str, password: str = "a long enough password") -> None:
    result = runner.invoke(
        cli, ["user", "add", username, "--staff", phone, "--password-stdin"], input=password
    )
    assert result.exit_code == 0, result.output


def _token(phone: str, name: str = "county-bi") -> str:
    result = runner.invoke(cli, ["user", "token", "create", "--staff", phone, "--name", name])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


def test_user_list_shows_logins_and_live_tokens_but_no_secrets(env: str) -> None:
    _add("chen", "13800000004")
    _add("wuke", "13800000008")
    token = _token("13800000008")
    _in(env, lambda f: _open_session(f, "wuke", "a long enough password"))
    result = runner.invoke(cli, ["user", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["username", "staff", "role", "active", "last", "login", "tokens"]
    chen = next(line for line in lines if line.startswith("chen"))
    wuke = next(line for line in lines if line.startswith("wuke"))
    assert "138****0004" in chen and "principal" in chen and " yes " in chen and chen.endswith(" 0")
    assert "138****0008" in wuke and "county_officer" in wuke and wuke.endswith(" 1")
    assert wuke.split()[-3] != "-"  # the time of that login
    assert "argon2" not in result.output and token not in result.output and "13800000004" not in result.output


def test_disable_ends_sessions_and_tokens_and_enable_lets_the_password_in_again(env: str) -> None:
    _add("wuke", "13800000008")
    token = _token("13800000008")
    cookie = _in(env, lambda f: _open_session(f, "wuke", "a long enough password"))
    result = runner.invoke(cli, ["user", "disable", "wuke"])
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended, 1 API token(s) revoked" in result.output and "已停用" in result.output
    assert not _in(env, lambda f: _session_alive(f, cookie))
    assert _in(env, lambda f: _token_owner(f, token)) is None
    assert not _in(env, lambda f: _can_log_in(f, "wuke", "a long enough password"))
    assert "DISABLED" in runner.invoke(cli, ["user", "list"]).output
    made = runner.invoke(cli, ["user", "token", "create", "--staff", "13800000008", "--name", "again"])
    assert made.exit_code == 1 and "disabled" in made.output

    assert runner.invoke(cli, ["user", "enable", "wuke"]).exit_code == 0
    assert _in(env, lambda f: _can_log_in(f, "wuke", "a long enough password"))
    assert _in(env, lambda f: _token_owner(f, token)) is None  # revoked stays revoked
    fresh = _token("13800000008")
    assert _in(env, lambda f: _token_owner(f, fresh)) == "13800000008"
    actions = [(label, action, entity) for label, action, entity, _ in _in(env, _audit)]
    assert ("cli", "disable", "web_user") in actions and ("cli", "enable", "web_user") in actions


def test_disable_of_an_unknown_login_says_so(env: str) -> None:
    for command in ("disable", "enable", "passwd"):
        argv = ["user", command, "nobody", "--password-stdin"][: 3 + (command == "passwd")]
        result = runner.invoke(cli, argv, input="a long enough password\n")
        assert result.exit_code == 1 and "No dashboard login named nobody" in result.output, command


def test_passwd_reads_stdin_and_ends_every_session(env: str) -> None:
    _add("chen", "13800000004")
    cookies = [_in(env, lambda f: _open_session(f, "chen", "a long enough password")) for _ in range(2)]
    result = runner.invoke(
        cli, ["user", "passwd", "chen", "--password-stdin"], input="an even longer passphrase\n"
    )
    assert result.exit_code == 0, result.output
    assert "2 session(s) ended" in result.output and "已修改" in result.output
    assert not any(_in(env, partial(_session_alive, cookie=c)) for c in cookies)
    assert not _in(env, lambda f: _can_log_in(f, "chen", "a long enough password"))
    assert _in(env, lambda f: _can_log_in(f, "chen", "an even longer passphrase"))
    entry = next(e for e in _in(env, _audit) if e[1] == "update" and e[2] == "web_user")
    assert entry[0] == "cli" and entry[3]["password_changed"] is True
    assert "passphrase" not in str(_in(env, _audit))


def test_passwd_prompts_twice_and_refuses_a_short_password_changing_nothing(env: str) -> None:
    _add("chen", "13800000004")
    cookie = _in(env, lambda f: _open_session(f, "chen", "a long enough password"))
    short = runner.invoke(cli, ["user", "passwd", "chen", "--password-stdin"], input="short\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output and "至少需要 10 个字符" in short.output
    assert _in(env, lambda f: _session_alive(f, cookie))
    assert _in(env, lambda f: _can_log_in(f, "chen", "a long enough password"))
    prompted = runner.invoke(
        cli, ["user", "passwd", "chen"], input="prompted passphrase\nprompted passphrase\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert "prompted passphrase" not in prompted.output  # hidden input is not echoed
    assert _in(env, lambda f: _can_log_in(f, "chen", "prompted passphrase"))


def test_passwd_takes_no_password_on_the_command_line(env: str) -> None:
    _add("chen", "13800000004")
    result = runner.invoke(cli, ["user", "passwd", "chen", "a long enough password"])
    assert result.exit_code == 2
    assert _in(env, lambda f: _can_log_in(f, "chen", "a long enough password"))


def test_tokens_are_listed_and_revoked_by_id_or_by_staff_member(env: str) -> None:
    first, second = _token("13800000008", "county-bi"), _token("13800000008", "county-gis")
    third = _token("13800000004", "school-sheet")
    listed = runner.invoke(cli, ["user", "token", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.output.splitlines()[1:]]
    assert [r[1] for r in rows] == ["county-bi", "county-gis", "school-sheet"]
    assert all(r[-1] == "active" for r in rows)
    assert not {first, second, third} & set(listed.output.split()) and "13800000008" not in listed.output
    first_id = rows[0][0]

    revoked = runner.invoke(cli, ["user", "token", "revoke", first_id])
    assert revoked.exit_code == 0 and f"API token {first_id} revoked." in revoked.output
    again = runner.invoke(cli, ["user", "token", "revoke", first_id])
    assert again.exit_code == 0 and "already revoked" in again.output
    assert _in(env, lambda f: _token_owner(f, first)) is None
    assert _in(env, lambda f: _token_owner(f, second)) == "13800000008"

    by_staff = runner.invoke(cli, ["user", "token", "revoke", "--staff", "13800000008"])
    assert by_staff.exit_code == 0 and "1 API token(s)" in by_staff.output
    assert _in(env, lambda f: _token_owner(f, second)) is None
    assert _in(env, lambda f: _token_owner(f, third)) == "13800000004"
    mine = runner.invoke(cli, ["user", "token", "list", "--staff", "13800000008"]).output.splitlines()[1:]
    assert [line.split()[-1] for line in mine] == ["revoked", "revoked"]
    revokes = [e for e in _in(env, _audit) if e[1] == "revoke" and e[2] == "api_token"]
    assert len(revokes) == 2 and all(e[0] == "cli" for e in revokes)


def test_token_revoke_needs_a_target_and_refuses_unknown_ids_changing_nothing(env: str) -> None:
    token = _token("13800000008")
    bare = runner.invoke(cli, ["user", "token", "revoke"])
    assert bare.exit_code == 2 and "--staff" in bare.output
    token_id = runner.invoke(cli, ["user", "token", "list"]).output.splitlines()[1].split()[0]
    unknown = runner.invoke(cli, ["user", "token", "revoke", token_id, "999999"])
    assert unknown.exit_code == 1 and "No API token with id 999999" in unknown.output
    assert "没有编号为 999999 的 API 令牌" in unknown.output
    assert _in(env, lambda f: _token_owner(f, token)) == "13800000008"  # all or nothing
    assert runner.invoke(cli, ["user", "token", "revoke", "abc"]).exit_code == 2
    nobody = runner.invoke(cli, ["user", "token", "create", "--staff", "13999999999", "--name", "x"])
    assert nobody.exit_code == 1 and "No staff member with phone number or id 13999999999" in nobody.output


def test_token_create_takes_its_lifetime_from_the_setting_or_days(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN_TTL_DAYS", "30")
    get_settings.cache_clear()
    _token("13800000008", "from-setting")
    result = runner.invoke(
        cli, ["user", "token", "create", "--staff", "13800000008", "--name", "short", "--days", "1"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in runner.invoke(cli, ["user", "token", "list"]).output.splitlines()[1:]]
    # name -> (created day, expiry day); the columns end: created, expires (day and time), last used "-"
    created = {r[1]: (r[-6], r[-4]) for r in rows}
    for name, days in (("from-setting", 30), ("short", 1)):
        made, expires = (date.fromisoformat(d) for d in created[name])
        assert (expires - made).days == days
