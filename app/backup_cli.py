"""`notoneless backup OUT` and `notoneless restore IN`: the database and the photo store in one file."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.logs import mask_ids
from app.settings import get_settings
from i18n.catalog import t
from storage.backup import create_backup, restore_backup
from storage.backup_archive import (
    BackupFailed,
    BackupRefused,
    FileDamaged,
    FileMissing,
    FileUnexpected,
    NotABackup,
    OutputExists,
    manifest_summary,
)
from storage.backup_db import (
    KindMismatch,
    RowsDiffer,
    SourceMissing,
    TargetExists,
    TargetNotEmpty,
    ToolFailed,
)

T = TypeVar("T")
MESSAGES: dict[type[Exception], str] = {
    OutputExists: "backup.output_exists",
    SourceMissing: "backup.source_missing",
    ToolFailed: "backup.tool_failed",
    NotABackup: "restore.not_a_backup",
    KindMismatch: "restore.kind_mismatch",
    TargetNotEmpty: "restore.target_not_empty",
    TargetExists: "restore.target_exists",
    FileDamaged: "restore.file_damaged",
    FileMissing: "restore.file_missing",
    FileUnexpected: "restore.file_unexpected",
    RowsDiffer: "restore.rows_differ",
}


def register(cli: typer.Typer) -> None:
    """Adds the two commands to the `notoneless` command."""
    cli.command("backup")(backup_cmd)
    cli.command("restore")(restore_cmd)


def _run(work: Coroutine[Any, Any, T], language: str) -> T:
    """Runs the work; a refusal exits 2 (nothing written or changed), a failure part of the way exits 1."""
    try:
        return asyncio.run(work)
    except (BackupRefused, BackupFailed) as exc:
        params = {k: mask_ids(str(v)) for k, v in exc.params.items()}
        typer.echo(t(language, MESSAGES[type(exc)], **params), err=True)
        raise typer.Exit(2 if isinstance(exc, BackupRefused) else 1) from None
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).splitlines()
        message = f"{type(exc).__name__}: {mask_ids(lines[0]) if lines else ''}"
        typer.echo(t(language, "backup.database_error", message=message), err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        message = mask_ids(f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}")
        typer.echo(t(language, "backup.file_error", message=message), err=True)
        raise typer.Exit(1) from None


def backup_cmd(
    out: Annotated[
        str, typer.Argument(help="Backup file to write (.tar), or a directory (ending in /) for a dated one")
    ],
) -> None:
    """Writes the database (a consistent snapshot, also while the bot runs), the photos and a manifest
    with every file's SHA-256 into one tar file readable only by its owner."""
    settings = get_settings()
    now = datetime.now(UTC)
    directory = out.endswith(("/", os.sep))
    work = create_backup(settings.database_url, settings.media_dir, Path(out), now, directory)
    result = _run(work, settings.default_language)
    size = f"{result.size / 1e6:.1f} MB"
    typer.echo(
        t(
            settings.default_language,
            "backup.written",
            path=str(result.path),
            size=size,
            **manifest_summary(result.manifest),
        )
    )
    if result.damaged:
        names = ", ".join(result.damaged[:10])
        typer.echo(
            t(settings.default_language, "backup.damaged_photos", count=len(result.damaged), names=names),
            err=True,
        )
        raise typer.Exit(1)


def restore_cmd(
    backup: Annotated[Path, typer.Argument(help="Backup file written by `notoneless backup`")],
) -> None:
    """Restores a backup into an EMPTY database (DATABASE_URL) and the photo store (MEDIA_DIR), after
    checking every file against the manifest. Refuses (exit 2, nothing changed) otherwise."""
    settings = get_settings()
    result = _run(
        restore_backup(backup, settings.database_url, settings.media_dir), settings.default_language
    )
    target = make_url(settings.database_url).render_as_string(hide_password=True)
    typer.echo(
        t(
            settings.default_language,
            "restore.done",
            created_at=result.manifest.created_at,
            target=target,
            copied=result.photos_copied,
            present=result.photos_present,
            **manifest_summary(result.manifest),
        )
    )
    typer.echo(t(settings.default_language, "restore.next"))
