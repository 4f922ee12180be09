"""`notoneless subject export|erase --student NUMBER`: data subject requests (domain.privacy.subject)."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from domain.audit import Actor
from domain.errors import DomainError, NotFound
from domain.privacy.identity import mask_student_number
from domain.privacy.subject import ExportExists, SubjectHasOpenCase, erase_subject, export_subject
from i18n import t

subject_cli = typer.Typer(
    help="Data subject requests: export or erase one student's data.", no_args_is_help=True
)
STUDENT = typer.Option("--student", help="The student's number (学籍号)")
ACTOR = Actor.system("cli")
T = TypeVar("T")


def _language() -> str:
    from app.settings import get_settings

    return get_settings().default_language


def _refusal(language: str, student: str, exc: DomainError) -> str:
    """The catalog message for a request the domain refused."""
    if isinstance(exc, SubjectHasOpenCase):
        return t(language, "privacy.subject_open_case", cases=", ".join(exc.case_numbers))
    if isinstance(exc, ExportExists):
        return t(language, "privacy.subject_out_exists", path=str(exc))
    return t(language, "privacy.subject_not_found", student=mask_student_number(student.strip()))


async def _refused(work: Awaitable[T]) -> T | DomainError:
    """The result, or the expected refusal as a value (the CLI's runner would print it untranslated)."""
    try:
        return await work
    except (NotFound, SubjectHasOpenCase, ExportExists) as exc:
        return exc


@subject_cli.command("export")
def export_cmd(
    student: Annotated[str, STUDENT],
    out: Annotated[Path, typer.Option("--out", help="The zip file to write (must not exist)")],
) -> None:
    """Writes everything held about the student (record, cases, events, visits, photos, audit entries)
    to one zip file readable only by you; the export is audited."""
    from app.cli import _with_services

    language = _language()
    done = _with_services(
        lambda s: _refused(export_subject(s.uow, s.media, student, out, actor=ACTOR, now=s.clock.now()))
    )
    if isinstance(done, DomainError):
        typer.echo(_refusal(language, student, done), err=True)
        raise typer.Exit(1)
    typer.echo(
        t(
            language,
            "privacy.subject_exported",
            path=str(done.path),
            cases=done.cases,
            events=done.events,
            photos=done.photos,
            files=done.files,
            audit=done.audit_entries,
        )
    )


@subject_cli.command("erase")
def erase_cmd(
    student: Annotated[str, STUDENT],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone")] = False,
) -> None:
    """Removes the student's personal details, the free text of their cases and their photos; the
    numbered cases stay, nameless, so past monthly figures still add up. Refused while a case is open."""
    from app.cli import _with_services

    language = _language()
    if not yes:
        typer.echo(t(language, "privacy.subject_confirm"), err=True)
        raise typer.Exit(2)
    done = _with_services(
        lambda s: _refused(erase_subject(s.uow, s.media, student, actor=ACTOR, now=s.clock.now()))
    )
    if isinstance(done, DomainError):
        typer.echo(_refusal(language, student, done), err=True)
        raise typer.Exit(1)
    typer.echo(t(language, "privacy.subject_erased", cases=done.cases, photos=done.photos, files=done.files))
