"""`notoneless retention run [--dry-run]`: the retention job by hand, printing what it removed."""

from __future__ import annotations

from typing import Annotated

import typer

from app.container import Services
from domain.privacy.retention import RetentionCounts, run_retention
from i18n import t

retention_cli = typer.Typer(
    help="Retention limits for personal data (docs/retention.md).", no_args_is_help=True
)


async def _run(services: Services, dry_run: bool) -> RetentionCounts:
    return await run_retention(
        services.uow,
        services.media,
        services.policy.data_retention,
        now=services.clock.now(),
        tz=services.tz,
        dry_run=dry_run,
    )


def format_counts(language: str, counts: RetentionCounts, dry_run: bool) -> list[str]:
    """A heading and one line per kind of record."""
    heading = t(language, "privacy.retention_dry_run" if dry_run else "privacy.retention_done")
    return [heading] + [
        t(language, f"privacy.retention_count.{name}", count=value)
        for name, value in counts.as_dict().items()
    ]


@retention_cli.command("run")
def run_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed")] = False,
) -> None:
    """Anonymises ended cases past the policy's limits and deletes old photos, files, audit entries and
    Telegram update rows (the scheduler does this daily)."""
    from app.cli import _with_services
    from app.settings import get_settings

    counts = _with_services(lambda services: _run(services, dry_run))
    for line in format_counts(get_settings().default_language, counts, dry_run):
        typer.echo(line)
