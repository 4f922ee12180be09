"""`notoneless crosscheck`: the 四查三比对 cross-match from the command line (docs/crosscheck.md).

Reads the county's lists and the roster (read-only), writes the proposal workbook (0600) and, with
`--save`, saves the run for review on the dashboard (nothing opens until confirmed there). Prints counts
only: no name or ID number reaches the terminal or the logs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from app.container import Services
from domain.audit import Actor, audit
from domain.crosscheck.buckets import AgeRule
from domain.crosscheck.files import InputFile, read_input
from domain.crosscheck.proposal import (
    Change,
    Proposal,
    changes_since,
    read_previous,
    write_proposal,
)
from domain.crosscheck.runs import SavedRun, county_for, propose, roster_of, save_run, sources_of
from domain.errors import InvalidInput
from domain.roster.format import RosterUnreadable
from i18n.catalog import t
from storage.crosscheck_queries import roll_call_cases, roster_pupils, roster_schools


def register(cli: typer.Typer) -> None:
    cli.command("crosscheck")(crosscheck_cmd)


class CountyUnclear(Exception):
    """--county names no county, or is needed (not a DomainError: the catalog text is printed here)."""

    def __init__(self, problem: InvalidInput) -> None:
        super().__init__(problem.code)
        self.problem = problem


def _fail(language: str, key: str, **params: object) -> typer.Exit:
    typer.echo(t(language, key, **params), err=True)
    return typer.Exit(code=1)


async def _run(
    services: Services,
    inputs: dict[str, InputFile],
    ages: AgeRule,
    out: Path | None,
    previous: Path | None,
    language: str,
    save_for: tuple[bool, str | None] = (False, None),
    names: dict[str, str] | None = None,
) -> tuple[Proposal, list[Change] | None, int, SavedRun | None]:
    save, county = save_for
    async with services.uow() as uow:
        # A run saved for a county (or one named) compares that county's roster; otherwise every pupil.
        try:
            county_id = await county_for(uow, county) if save or county else None
        except InvalidInput as exc:
            raise CountyUnclear(exc) from None
        if county_id is not None:
            pupils, schools = await roster_of(uow, county_id)
        else:
            pupils, schools = await roster_pupils(uow.session), await roster_schools(uow.session)
        roll_call = await roll_call_cases(uow.session)
    proposal = propose(inputs, pupils, schools, ages)
    changes = changes_since(proposal, read_previous(previous), language) if previous else None
    if out is not None:
        write_proposal(proposal, out, language=language, changes=changes)
    saved = None
    async with services.uow() as uow:
        # Counts only: the audit log never holds names or ID numbers.
        audit(
            uow,
            Actor(staff_id=None, label="cli"),
            services.clock.now(),
            "crosscheck",
            "proposal",
            None,
            **{f"rows_{k}": len(v.rows) for k, v in inputs.items()},
            roster_pupils=len(pupils),
            roll_call_open=roll_call,
            **proposal.counts(),
            changes=len(changes) if changes is not None else None,
        )
        if save and county_id is not None:
            saved = await save_run(
                uow,
                Actor(staff_id=None, label="cli"),
                proposal,
                county_id=county_id,
                sources=sources_of(inputs, names or {}),
                now=services.clock.now(),
            )
        await uow.commit()
    return proposal, changes, roll_call, saved


def crosscheck_cmd(
    population: Annotated[
        Path, typer.Option("--population", help="户籍: household-registration list (.xlsx/.csv)")
    ],
    registry: Annotated[Path, typer.Option("--registry", help="学籍: student-record export (.xlsx/.csv)")],
    out: Annotated[Path | None, typer.Option("--out", help="The proposal workbook to write (.xlsx)")] = None,
    poverty: Annotated[Path | None, typer.Option("--poverty", help="建档立卡/防返贫监测 list")] = None,
    disabled: Annotated[Path | None, typer.Option("--disabled", help="残联: disabled-children list")] = None,
    previous: Annotated[
        Path | None, typer.Option("--previous", help="An earlier proposal: adds a sheet of what changed")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day whose school year sets the age cut-off (YYYY-MM-DD)")
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="zh_CN or en")] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Save the run for review and confirmation on the dashboard")
    ] = False,
    county: Annotated[
        str | None, typer.Option("--county", help="Area code of the county (needed when there are several)")
    ] = None,
) -> None:
    """Cross-matches the county's lists with the roster and roll call (四查三比对); writes a proposal
    and, with --save, saves it for review on the dashboard."""
    from app.cli import _with_services
    from app.settings import get_settings

    lang = language if language in ("zh_CN", "en") else get_settings().default_language
    if out is None and not save:
        raise _fail(lang, "crosscheck.out_or_save")
    if out is not None:
        if out.suffix.lower() != ".xlsx":
            raise _fail(lang, "crosscheck.out_not_xlsx")
        if previous is not None and previous.resolve() == out.resolve():
            raise _fail(lang, "crosscheck.out_is_previous")
        if not out.parent.is_dir():
            raise _fail(lang, "crosscheck.out_folder_missing", folder=str(out.parent))
    try:
        today = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise _fail(lang, "crosscheck.bad_as_of", value=as_of) from None
    files = {"population": population, "registry": registry, "poverty": poverty, "disabled": disabled}
    inputs: dict[str, InputFile] = {}
    try:
        for key, path in files.items():
            if path is not None:
                inputs[key] = read_input(key, path)
        if previous is not None and not previous.is_file():
            raise RosterUnreadable(previous.name, "文件不存在 (file not found)")
    except RosterUnreadable as exc:
        raise _fail(lang, "crosscheck.unreadable", error=str(exc)) from None
    ages = AgeRule.for_day(today)
    names = {key: path.name for key, path in files.items() if path is not None}
    try:
        proposal, changes, roll_call, saved = _with_services(
            lambda services: _run(services, inputs, ages, out, previous, lang, (save, county), names)
        )
    except RosterUnreadable as exc:
        raise _fail(lang, "crosscheck.unreadable", error=str(exc)) from None
    except CountyUnclear as exc:
        raise _fail(lang, exc.problem.code, **exc.problem.params) from None
    for key, file in inputs.items():
        typer.echo(
            t(
                lang,
                "crosscheck.read",
                file=t(lang, f"crosscheck.source.{key}"),
                rows=len(file.rows),
                skipped=file.skipped,
            )
        )
    typer.echo(t(lang, "crosscheck.roll_call", count=roll_call))
    for bucket, count in proposal.counts().items():
        typer.echo(f"  {t(lang, f'crosscheck.bucket.{bucket}')}: {count}")
    if changes is not None:
        kinds = {k: sum(c.kind == k for c in changes) for k in ("new", "gone", "changed")}
        typer.echo(t(lang, "crosscheck.changes", **kinds))
    if out is not None:
        typer.echo(t(lang, "crosscheck.written", path=str(out), cutoff=ages.cutoff.isoformat()))
    if saved is not None:
        typer.echo(
            t(
                lang,
                "crosscheck.saved",
                run=saved.id,
                **{k: saved.counts[k] for k in ("new", "changed", "same", "gone")},
            )
        )
