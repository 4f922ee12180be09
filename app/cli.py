"""The `notoneless` command: database, roster, invites, demo data and the running system."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from app.backup_cli import register as register_backup
from app.container import Services, build_services
from app.crosscheck_cli import register as register_crosscheck
from app.logs import configure_logging, mask_ids
from app.retention_cli import retention_cli
from app.settings import get_settings
from app.subject_cli import subject_cli
from app.user_cli import user_cli
from domain.audit import Actor
from domain.errors import DomainError
from domain.privacy.identity import mask_phone

T = TypeVar("T")
# No local variables in tracebacks: they would print roster rows (names, ID numbers, phones).
cli = typer.Typer(
    help="Not One Less (一个都不能少): dropout-prevention case work.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(retention_cli, name="retention")
cli.add_typer(subject_cli, name="subject")


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
    except SQLAlchemyError as exc:
        # One masked line, no traceback: the statement's values (and the database's own message, which
        # may quote a value) would print names, ID numbers and phones.
        typer.echo(f"Database error ({type(exc).__name__}): {database_message(exc)} 数据库出错。", err=True)
        raise typer.Exit(code=1) from None


def database_message(exc: SQLAlchemyError) -> str:
    """The database's own first line, ID and mobile numbers masked, without the SQL or its parameters."""
    lines = str(getattr(exc, "orig", None) or exc).splitlines()
    return mask_ids(lines[0]) if lines else ""


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
    files: Annotated[
        list[Path], typer.Argument(help=".xlsx workbook, or .csv files named after their sheet")
    ],
) -> None:
    """Imports areas, schools, classes, staff and students; all or nothing."""
    from bot.wecom.inbound import CHANNEL as WECOM
    from domain.roster.importer import RosterInvalid, RosterUnreadable, import_roster

    def progress(sheet: str, done: int, total: int) -> None:
        typer.echo(f"  {sheet}: {done}/{total}", err=True)

    async def work(services: Services) -> object:
        await _upgrade(services)
        return await import_roster(
            services.uow,
            list(files),
            now=services.clock.now(),
            actor=Actor.system("cli"),
            progress=progress,
            account_channel=WECOM,  # the staff sheet's 企业微信账号 column (docs/roster.md)
        )

    try:
        summary = _with_services(work)
    except RosterUnreadable as exc:
        # A damaged or hostile file: one line naming it, and exit 2 like any unusable input.
        typer.echo(f"{exc} 未导入任何数据 (nothing was imported).", err=True)
        raise typer.Exit(code=2) from None
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
    all_unbound: Annotated[
        bool, typer.Option("--all-unbound", help="Everyone without a Telegram binding")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the links to this file")] = None,
) -> None:
    """Creates single-use, expiring invite links to bind staff to their Telegram accounts."""
    from app.invites_cli import make_invites

    if not staff and not all_unbound:
        raise typer.BadParameter("give --staff PHONE (repeatable) or --all-unbound")
    if all_unbound and out is None:
        raise typer.BadParameter("--all-unbound writes to a file: add --out FILE")
    settings = get_settings()
    lines = _with_services(
        lambda s: make_invites(s, staff or [], all_unbound, timedelta(hours=settings.invite_ttl_hours))
    )
    if out is not None:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.chmod(0o600)
        typer.echo(f"{len(lines)} invite(s) written to {out}")
    else:
        for line in lines:
            typer.echo(line)


@cli.command("demo-data")
def demo_data_cmd() -> None:
    """Creates a clearly fictional county with schools, staff, pupils and some open cases (only in a
    database that holds no other areas)."""
    from domain.demo import DEMO_LOGIN, create_demo_data, demo_login

    settings = get_settings()

    async def work(services: Services) -> tuple[Any, str | None]:
        await _upgrade(services)
        demo = await create_demo_data(
            services.uow,
            now=services.clock.now(),
            policy=services.policy,
            tz=services.tz,
            media=services.media,
        )
        if settings.demo:  # `notoneless run` gives the login a new password once the server is up
            return demo, None
        async with services.uow() as uow:
            password = await demo_login(uow, now=services.clock.now())
            await uow.commit()
        return demo, password

    demo, password = _with_services(work)
    if demo.already_existed:
        typer.echo("Demo county already exists; nothing changed. 示例数据已存在，未作改动。")
    else:
        typer.echo(format_import(demo.roster))
        typer.echo("Cases by status: " + ", ".join(f"{k} {v}" for k, v in sorted(demo.cases.items())))
    typer.echo("Demo staff (all names are generated):")
    for person in demo.staff:
        typer.echo(f"  {person.id:>4}  {person.role:<17} {person.name}  {mask_phone(person.phone)}")
    if settings.demo:
        typer.echo("The dashboard login is printed by `notoneless run` once the server is up.")
    elif password:
        typer.echo(
            f"Dashboard (demo county officer): http://{settings.web_host}:{settings.web_port}/dashboard "
            f"user {DEMO_LOGIN!r}, password {password!r} (new on every demo-data run)"
        )


@cli.command("run")
def run_cmd(
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the reminder scheduler in this process (default); turn it off when `notoneless scheduler` "
            "runs separately",
        ),
    ] = True,
) -> None:
    """Runs the bot, the web dashboard and the reminder scheduler. With DEMO=true (and no token) it runs
    the built-in Bot API emulator and the browser chat simulator instead of talking to Telegram."""
    from app.runner import run

    asyncio.run(run(get_settings(), scheduler=scheduler))


@cli.command("scheduler")
def scheduler_cmd() -> None:
    """Runs only the reminder scheduler (no web server, no polling), e.g. beside several webhook workers.
    Several may run at once against one database: one leads and sends, the others stand by and take over
    when it stops or dies (`notoneless leader` shows which). SIGTERM or Ctrl-C stops it cleanly: a
    leader gives up its lease, so a standby takes over within about a second."""
    from app.scheduler import run_standalone

    settings = get_settings()
    if settings.token is None:
        typer.echo(
            "Error: the standalone scheduler sends through Telegram and needs TELEGRAM_BOT_TOKEN. "
            "In demo mode (DEMO=true) `notoneless run` runs the scheduler in-process. "
            "独立运行提醒调度器需要设置 TELEGRAM_BOT_TOKEN；演示模式请使用 notoneless run。",
            err=True,
        )
        raise typer.Exit(code=2)

    if settings.metrics_port:
        from prometheus_client import start_http_server

        # Loopback only: the scheduler has no token check; scrape it from the same machine.
        start_http_server(settings.metrics_port, addr="127.0.0.1")

    async def work(services: Services) -> None:
        await _upgrade(services)
        await run_standalone(services)

    try:
        _with_services(work)
    except KeyboardInterrupt:  # Ctrl-C before run_standalone took over SIGINT (e.g. during the upgrade)
        pass
    typer.echo("Scheduler stopped.")


@cli.command("overview-refresh")
def overview_refresh_cmd() -> None:
    """Counts the overview snapshots of large areas now (the scheduler does it every
    OVERVIEW_REFRESH_SECONDS), e.g. after a bulk import."""
    from domain.reports.overview_snapshots import refresh

    async def work(services: Services) -> Any:
        return await refresh(
            services.uow,
            now=services.clock.now(),
            tz=services.tz,
            live_max_cases=services.settings.overview_live_max_cases,
        )

    done = _with_services(work)
    typer.echo(
        f"Overview snapshots: {done.stored} of {done.scopes} coordinator areas stored "
        f"(above {get_settings().overview_live_max_cases} cases) in {done.seconds:.1f} s."
    )


@cli.command("doctor")
def doctor_cmd(
    replan: Annotated[
        bool, typer.Option("--replan", help="Replan every open case first (repairs what it can)")
    ] = False,
) -> None:
    """Lists open cases that have gone silent: no active owner, no next dated step, or nobody due to be
    told. Exits with status 1 when there are any (for monitoring)."""
    from domain.casework.invariant import silent_cases
    from domain.reminders.planning import replan_all

    async def work(services: Services) -> tuple[list[Any], int]:
        if replan:
            await replan_all(services.uow, services.policy, services.clock.now(), services.tz)
        async with services.uow() as uow:
            found = await silent_cases(uow, None, limit=10_000)
            open_cases = sum(
                n
                for status, n in (await uow.cases.count_by_status()).items()
                if status not in ("closed", "cleared")
            )
        return found, open_cases

    found, open_cases = _with_services(work)
    if not found:
        typer.echo(
            f"OK: every open case ({open_cases}) has an owner, a next dated step and a pending reminder."
        )
        return
    typer.echo(f"{len(found)} of {open_cases} open cases have gone silent:")
    for v in found:
        typer.echo(f"  {v.number}  (id {v.case_id}, {v.status}): missing {', '.join(v.problems)}")
    typer.echo(
        "Run `notoneless doctor --replan` to replan them; cases without an owner need one in the roster."
    )
    raise typer.Exit(1)


@cli.command("leader")
def leader_cmd() -> None:
    """Shows which scheduler process leads (plans and sends reminders) and until when its lease runs."""
    from app.leadership import SCHEDULER
    from storage import leases

    async def work(services: Services) -> str:
        async with services.uow() as uow:
            lease = await leases.current(uow.session, SCHEDULER)
        now = services.clock.now()
        if lease is None or lease.expires_at <= now:
            return "No scheduler leads now (none is running, or a standby is about to take over)."
        return (
            f"Scheduler leader: {lease.holder}, since {lease.since:%Y-%m-%d %H:%M:%S} UTC; "
            f"lease runs {(lease.expires_at - now).total_seconds():.0f} s more unless renewed."
        )

    typer.echo(_with_services(work))


def format_import(summary: Any) -> str:
    """One line per kind of record: created / updated / unchanged."""
    return "\n".join(
        f"  {kind:<9} created {summary.created[kind]:>6}  updated {summary.updated[kind]:>6}  "
        f"unchanged {summary.unchanged[kind]:>6}"
        for kind in summary.created
    )


register_backup(cli)
register_crosscheck(cli)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    cli()


if __name__ == "__main__":  # `python -m app.cli`, as well as the `notoneless` script
    main()
