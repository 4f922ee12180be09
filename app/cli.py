"""The `notoneless` command: database, roster, invites, demo data and the running system."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from app.container import Services, build_services
from app.logs import configure_logging
from app.settings import get_settings
from domain.audit import Actor
from domain.errors import DomainError
from domain.identity import mask_phone

T = TypeVar("T")
cli = typer.Typer(help="Not One Less (一个都不能少): dropout-prevention case work.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    async def runner() -> T:
        services = build_services(get_settings())
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None


async def _upgrade(services: Services) -> None:
    from storage.migrate import upgrade

    await upgrade(services.engine)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Creates or upgrades the database schema to the newest version."""
    _with_services(_upgrade)
    typer.echo("Database is up to date.")


@cli.command("import-roster")
def import_roster_cmd(
    files: Annotated[list[Path], typer.Argument(help=".xlsx workbook, or .csv files named after their sheet")],
) -> None:
    """Imports areas, schools, classes, staff and students; all or nothing."""
    from domain.roster import RosterInvalid, import_roster

    def progress(sheet: str, done: int, total: int) -> None:
        typer.echo(f"  {sheet}: {done}/{total}", err=True)

    async def work(services: Services) -> object:
        await _upgrade(services)
        return await import_roster(services.uow, list(files), now=services.clock.now(),
                                   actor=Actor.system("cli"), progress=progress)

    try:
        summary = _with_services(work)
    except RosterInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"Nothing was imported: {len(exc.problems)} problem(s) found. 未导入任何数据。", err=True)
        raise typer.Exit(code=1) from None
    typer.echo("Imported. 导入完成。")
    typer.echo(format_import(summary))


@cli.command("invite")
def invite_cmd(
    staff: Annotated[list[str] | None, typer.Option("--staff", help="Staff phone number or id")] = None,
    all_unbound: Annotated[bool, typer.Option("--all-unbound", help="Everyone without a Telegram binding")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the links to this file")] = None,
) -> None:
    """Creates single-use, expiring invite links to bind staff to their Telegram accounts."""
    from app.invites_cli import make_invites

    if not staff and not all_unbound:
        raise typer.BadParameter("give --staff PHONE (repeatable) or --all-unbound")
    if all_unbound and out is None:
        raise typer.BadParameter("--all-unbound writes to a file: add --out FILE")
    settings = get_settings()
    lines = _with_services(lambda s: make_invites(s, staff or [], all_unbound,
                                                  timedelta(hours=settings.invite_ttl_hours)))
    if out is not None:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.chmod(0o600)
        typer.echo(f"{len(lines)} invite(s) written to {out}")
    else:
        for line in lines:
            typer.echo(line)


@cli.command("demo-data")
def demo_data_cmd() -> None:
    """Creates a clearly fictional county with schools, staff, pupils and some open cases."""
    from domain.demo import create_demo_data

    async def work(services: Services) -> object:
        await _upgrade(services)
        return await create_demo_data(services.uow, now=services.clock.now(), policy=services.policy,
                                      tz=services.tz)

    demo = _with_services(work)
    if demo.already_existed:
        typer.echo("Demo county already exists; nothing changed. 示例数据已存在，未作改动。")
    else:
        typer.echo(format_import(demo.roster))
        typer.echo("Cases by status: " + ", ".join(f"{k} {v}" for k, v in sorted(demo.cases.items())))
    typer.echo("Demo staff (all names are generated):")
    for person in demo.staff:
        typer.echo(f"  {person.id:>4}  {person.role:<17} {person.name}  {mask_phone(person.phone)}")


@cli.command("run")
def run_cmd() -> None:
    """Runs the bot, the web dashboard and the reminder scheduler. Without TELEGRAM_BOT_TOKEN it runs
    the built-in Bot API emulator and the browser chat simulator (demo mode)."""
    from app.runner import run

    asyncio.run(run(get_settings()))


def format_import(summary: Any) -> str:
    """One line per kind of record: created / updated / unchanged."""
    return "\n".join(f"  {kind:<9} created {summary.created[kind]:>6}  updated {summary.updated[kind]:>6}  "
                     f"unchanged {summary.unchanged[kind]:>6}" for kind in summary.created)


def main() -> None:
    configure_logging(get_settings().log_level)
    cli()
