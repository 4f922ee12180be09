"""`notoneless user …`: dashboard logins and API tokens, from creation to revocation. Thin: parse,
call domain.people.webauth or domain.people.credentials, print. Passwords are read from a hidden prompt or stdin,
never from the command line (it ends up in shell history and the process list)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer

from app.container import Services
from domain.audit import Actor
from domain.errors import DomainError, InvalidInput
from domain.privacy.identity import mask_phone
from i18n import t

T = TypeVar("T")
CLI_ACTOR = Actor.system("cli")

user_cli = typer.Typer(help="Dashboard logins and API tokens.", no_args_is_help=True)
token_cli = typer.Typer(help="API bearer tokens for /api/v1.", no_args_is_help=True)
user_cli.add_typer(token_cli, name="token")

StaffKey = Annotated[str, typer.Option("--staff", help="Phone number (or id) of the staff member")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (one line)")
]


def say(key: str, **params: object) -> str:
    """An operator message in English and Chinese, as the rest of the CLI prints them."""
    return f"{t('en', key, **params)} {t('zh_CN', key, **params)}"


def _run(work: Callable[[Services], Awaitable[T]]) -> T:
    """Upgrades the schema, runs `work`; bad input ends with one clear line and exit status 1."""
    from app.cli import _upgrade, _with_services  # app.cli registers this module: import late

    async def guarded(services: Services) -> T:
        await _upgrade(services)
        try:
            return await work(services)
        except InvalidInput as exc:
            raise DomainError(say(f"credentials.{exc.code}", **exc.params)) from None

    return _with_services(guarded)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password / 密码", hide_input=True, confirmation_prompt=True))


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}" if moment else "-"


async def _staff_by_key(services: Services, key: str) -> Any:
    """A staff member by phone number (or id); InvalidInput otherwise."""
    async with services.uow() as uow:
        person = await uow.directory.staff_by_phone(key)
        if person is None and key.isdigit() and len(key) < 11:
            person = await uow.directory.staff(int(key))
    if person is None:
        raise InvalidInput("unknown_staff", value=key)
    return person


@user_cli.command("add")
def user_add_cmd(
    username: Annotated[str, typer.Argument(help="Login name: letters, digits, . _ - (3-64)")],
    staff: StaffKey,
    export_pii: Annotated[bool, typer.Option("--export-pii", help="May export unmasked ID numbers")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Creates a dashboard login for a principal, township/county officer or admin."""
    from domain.people.webauth import create_user

    password = _read_password(password_stdin)

    async def work(services: Services) -> str:
        person = await _staff_by_key(services, staff)
        async with services.uow() as uow:
            await create_user(
                uow,
                person,
                username,
                password,
                now=services.clock.now(),
                can_export_pii=export_pii,
                actor=CLI_ACTOR,
            )
            await uow.commit()
        return f"{person.name} ({person.role}, {mask_phone(person.phone)})"

    who = _run(work)  # a teacher's or cadre's phone ends with NoDashboardAccess's message
    typer.echo(f"Dashboard login {username!r} created for {who}{' with PII export' if export_pii else ''}.")


@user_cli.command("list")
def user_list_cmd() -> None:
    """Lists dashboard logins: username, staff member, role, active, last login, live API tokens."""
    from domain.people.credentials import list_logins

    async def work(services: Services) -> list[Any]:
        async with services.uow() as uow:
            return await list_logins(uow, services.clock.now())

    logins = _run(work)
    if not logins:
        typer.echo(say("credentials.no_logins"))
        return
    tz = _tz()
    typer.echo(f"{'username':<20} {'staff':<28} {'role':<17} {'active':<8} {'last login':<16}  tokens")
    for row in logins:
        staff = f"{row.staff_id} {row.staff_name} {mask_phone(row.phone)}"
        state = "yes" if row.active else "DISABLED"
        if row.active and row.locked_until:
            state = "locked"
        typer.echo(
            f"{row.username:<20} {staff:<28} {row.role:<17} {state:<8} "
            f"{_when(row.last_login_at, tz):<16}  {row.live_tokens}"
        )


@user_cli.command("disable")
def user_disable_cmd(username: Annotated[str, typer.Argument(help="The login to disable")]) -> None:
    """Disables a login now: ends its sessions and revokes its staff member's API tokens."""
    from domain.people.credentials import disable_login

    async def work(services: Services) -> Any:
        async with services.uow() as uow:
            ended = await disable_login(uow, username, now=services.clock.now(), actor=CLI_ACTOR)
            await uow.commit()
        return ended

    ended = _run(work)
    typer.echo(say("credentials.disabled", username=username, sessions=ended.sessions, tokens=ended.tokens))


@user_cli.command("enable")
def user_enable_cmd(username: Annotated[str, typer.Argument(help="The login to enable again")]) -> None:
    """Enables a disabled (or locked) login again; revoked tokens stay revoked."""
    from domain.people.credentials import enable_login

    async def work(services: Services) -> None:
        async with services.uow() as uow:
            await enable_login(uow, username, now=services.clock.now(), actor=CLI_ACTOR)
            await uow.commit()

    _run(work)
    typer.echo(say("credentials.enabled", username=username))


@user_cli.command("passwd")
def user_passwd_cmd(
    username: Annotated[str, typer.Argument(help="The login whose password to set")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Sets a new password (prompted twice, hidden) and ends every session of the login."""
    from domain.people.credentials import change_password

    password = _read_password(password_stdin)

    async def work(services: Services) -> Any:
        async with services.uow() as uow:
            ended = await change_password(uow, username, password, now=services.clock.now(), actor=CLI_ACTOR)
            await uow.commit()
        return ended

    ended = _run(work)
    typer.echo(say("credentials.password_changed", username=username, sessions=ended.sessions))


@token_cli.command("create")
def token_create_cmd(
    staff: StaffKey,
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. county-bi")],
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, max=3650, help="Days it works (default: API_TOKEN_TTL_DAYS)"),
    ] = None,
) -> None:
    """Creates an API bearer token for /api/v1 and prints it once (only its hash is stored)."""
    from domain.people.webauth import create_api_token

    async def work(services: Services) -> tuple[str, datetime]:
        ttl = timedelta(days=days or services.settings.api_token_ttl_days)
        person = await _staff_by_key(services, staff)
        now = services.clock.now()
        async with services.uow() as uow:
            token = await create_api_token(uow, person, name, now=now, ttl=ttl, actor=CLI_ACTOR)
            await uow.commit()
        return token, now + ttl

    token, expires = _run(work)
    typer.echo(token)
    typer.echo(say("credentials.token_created", expires=_when(expires, _tz())), err=True)


@token_cli.command("list")
def token_list_cmd(
    staff: Annotated[str | None, typer.Option("--staff", help="Only this staff member's tokens")] = None,
) -> None:
    """Lists API tokens: id, name, owner, created, expires, last used, state (never the token)."""
    from domain.people.credentials import list_tokens

    async def work(services: Services) -> list[Any]:
        staff_id = (await _staff_by_key(services, staff)).id if staff else None
        async with services.uow() as uow:
            return await list_tokens(uow, services.clock.now(), staff_id=staff_id)

    tokens = _run(work)
    if not tokens:
        typer.echo(say("credentials.no_tokens"))
        return
    tz = _tz()
    typer.echo(
        f"{'id':>5}  {'name':<20} {'staff':<28} {'created':<16} {'expires':<16} {'last used':<16}  state"
    )
    for row in tokens:
        owner = f"{row.staff_id} {row.staff_name} {mask_phone(row.phone)}"
        typer.echo(
            f"{row.id:>5}  {row.name[:20]:<20} {owner:<28} {_when(row.created_at, tz):<16} "
            f"{_when(row.expires_at, tz):<16} {_when(row.last_used_at, tz):<16}  {row.state}"
        )


@token_cli.command("revoke")
def token_revoke_cmd(
    token_ids: Annotated[list[int] | None, typer.Argument(help="Token ids from `user token list`")] = None,
    staff: Annotated[
        str | None, typer.Option("--staff", help="Revoke every token of this staff member")
    ] = None,
) -> None:
    """Revokes API tokens at once: by id, or all of a staff member's."""
    from domain.people.credentials import revoke_token, revoke_tokens_of_staff

    if not token_ids and not staff:
        raise typer.BadParameter(say("credentials.revoke_what"))

    async def work(services: Services) -> list[str]:
        person = await _staff_by_key(services, staff) if staff else None
        now, lines = services.clock.now(), []
        async with services.uow() as uow:
            for token_id in token_ids or []:
                done = await revoke_token(uow, token_id, now=now, actor=CLI_ACTOR)
                key = "credentials.token_revoked" if done else "credentials.token_already_revoked"
                lines.append(say(key, id=token_id))
            if person is not None:
                count = await revoke_tokens_of_staff(uow, person.id, now=now, actor=CLI_ACTOR)
                lines.append(say("credentials.staff_tokens_revoked", count=count))
            await uow.commit()
        return lines

    for line in _run(work):
        typer.echo(line)


def _tz() -> ZoneInfo:
    from app.settings import get_settings

    return get_settings().tz
