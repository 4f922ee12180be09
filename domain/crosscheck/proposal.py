"""The cross-check's result: one entry per child with a stable key, its .xlsx writer, and the changes
since a previous proposal.

The key follows a child across runs: it is derived from the ID number when any list gives one, else
the 学籍号, else the name and birth date. It is a label, not a pseudonym: the workbook holds the ID
numbers anyway (an authorised working file for the county officer).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from domain.crosscheck.buckets import BUCKETS, AgeRule, Verdict, classify
from domain.crosscheck.match import Person
from domain.crosscheck.names import simplified
from domain.reports.sheets import Column
from domain.reports.xlsx_writer import BOOK_OPTIONS, XlsxSheet
from domain.roster.archive import check_archive
from domain.roster.cells import cell_text
from domain.roster.files import READ_ERRORS
from domain.roster.format import RosterUnreadable
from i18n.catalog import t

# The first four columns of the results sheet are what a later run reads back (key, codes, name).
KEY, BUCKET, REASON = 0, 1, 2
RESULT_COLUMNS = (
    ("key", 20),
    ("bucket_code", 14),
    ("reason_code", 22),
    ("bucket", 16),
    ("reason", 48),
    ("confidence", 8),
    ("method", 14),
    ("name", 12),
    ("national_id", 21),
    ("birth_date", 12),
    ("registered_address", 24),
    ("current_address", 24),
    ("school", 20),
    ("student_number", 22),
    ("record_status", 10),
    ("roster", 20),
    ("poverty", 8),
    ("disability", 14),
    ("candidates", 30),
    ("sources", 24),
)


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    verdict: Verdict
    person: Person


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    kind: str  # new | gone | changed
    before: str  # previous bucket code ("" when new)
    after: str  # bucket code now ("" when gone)
    name: str
    national_id: str


@dataclass
class Proposal:
    entries: list[Entry]
    ages: AgeRule

    def counts(self) -> dict[str, int]:
        found = Counter(e.verdict.bucket for e in self.entries)
        return {b: found.get(b, 0) for b in BUCKETS}

    def flagged(self, bucket: str) -> tuple[int, int]:
        """How many of a bucket's children are on the poverty list and on the disability list."""
        chosen = [e.person for e in self.entries if e.verdict.bucket == bucket]
        return sum(p.poverty for p in chosen), sum(p.disabled is not None for p in chosen)


def child_key(person: Person) -> str:
    ids = sorted(person.national_ids())
    if ids:
        basis = "id:" + ids[0]
    elif numbers := sorted(
        {r.number for r in person.registry if r.number} | {p.number for p in person.pupils}
    ):
        basis = "number:" + numbers[0]
    else:
        first = person.first()
        name = simplified(first.name) if first and first.name else ""
        birth = first.birth_date.isoformat() if first and first.birth_date else ""
        basis = f"name:{name}:{birth}:{first.source if first else ''}:{first.row if first else 0}"
    return "CC-" + hashlib.sha256(basis.encode()).hexdigest()[:16].upper()


def build_proposal(people: Sequence[Person], ages: AgeRule, roster_schools: frozenset[str]) -> Proposal:
    entries: dict[str, Entry] = {}
    for person in people:
        key = child_key(person)
        while key in entries:  # two unjoined people sharing an ID key (an ID mismatch elsewhere)
            key += "+"
        entries[key] = Entry(key, classify(person, ages, roster_schools), person)
    order = {b: i for i, b in enumerate(BUCKETS)}
    return Proposal(sorted(entries.values(), key=lambda e: (order[e.verdict.bucket], e.key)), ages)


def _yes(language: str, flag: bool) -> str:
    return t(language, "crosscheck.yes") if flag else ""


def result_row(entry: Entry, language: str) -> list[Any]:
    person, verdict = entry.person, entry.verdict
    first = person.first()
    record = person.registry[0] if person.registry else None
    pupil = person.pupils[0] if person.pupils else None
    sources = [t(language, f"crosscheck.source.{r.source}") + f"#{r.row}" for r in person.rows()]
    sources += [t(language, "crosscheck.source.roster") for _ in person.pupils]
    disabled = person.disabled
    return [
        entry.key,
        verdict.bucket,
        verdict.reason,
        t(language, f"crosscheck.bucket.{verdict.bucket}"),
        "；".join(t(language, f"crosscheck.reason.{c}") for c in person.conflicts)
        if verdict.reason in person.conflicts
        else t(language, f"crosscheck.reason.{verdict.reason}", **verdict.params),
        person.confidence if person.method else None,
        t(language, f"crosscheck.method.{person.method}") if person.method else "",
        (first.name if first else None) or (pupil.name if pupil else ""),
        next(iter(sorted(person.national_ids())), ""),
        (first.birth_date if first else None) or (pupil.birth_date if pupil else None),
        next((r.registered_address for r in person.population if r.registered_address), ""),
        next((r.current_address for r in person.population if r.current_address), ""),
        "；".join(dict.fromkeys(r.school or "" for r in person.registry))
        or (pupil.school_name if pupil else ""),
        "；".join(dict.fromkeys(r.number or "" for r in person.registry)),
        record.status if record and record.status else "",
        "；".join(f"{p.school_name} {p.number}" for p in person.pupils),
        _yes(language, person.poverty),
        " ".join(x for x in (disabled.disability_type, disabled.disability_grade) if x)
        or _yes(language, True)
        if disabled
        else "",
        "；".join(f"{r.name} {r.school or ''} {r.number or ''}".strip() for r in person.candidates),
        " ".join(sources),
    ]


def _columns(language: str) -> list[Column]:
    kinds = {"birth_date": "date"}
    return [
        Column(t(language, f"crosscheck.column.{name}"), width, kinds.get(name, "text"))
        for name, width in RESULT_COLUMNS
    ]


def _summary_rows(proposal: Proposal, language: str, changes: Sequence[Change] | None) -> Iterator[list[Any]]:
    for bucket, count in proposal.counts().items():
        poor, disabled = proposal.flagged(bucket)
        yield [
            t(language, f"crosscheck.bucket.{bucket}"),
            count,
            poor,
            disabled,
            t(language, f"crosscheck.meaning.{bucket}"),
        ]
    yield [
        t(
            language,
            "crosscheck.summary.cutoff",
            day=proposal.ages.cutoff.isoformat(),
            low=proposal.ages.min_age,
            high=proposal.ages.max_age,
        ),
        None,
        None,
        None,
        "",
    ]
    if changes is not None:
        found = Counter(c.kind for c in changes)
        for kind in ("new", "gone", "changed"):
            yield [t(language, f"crosscheck.change.{kind}"), found.get(kind, 0), None, None, ""]


def write_proposal(
    proposal: Proposal, path: Path, *, language: str, changes: Sequence[Change] | None = None
) -> None:
    """Writes the workbook (0600: it holds names and ID numbers): a summary, every child, and the
    changes since the previous proposal when one was given."""
    tz = ZoneInfo("Asia/Shanghai")  # dates only; no times are written
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    book = xlsxwriter.Workbook(str(path), {**BOOK_OPTIONS, "tmpdir": str(path.parent)})
    try:
        summary = XlsxSheet(
            book,
            t(language, "crosscheck.sheet.summary"),
            [
                Column(t(language, f"crosscheck.summary.{n}"), w, k)
                for n, w, k in (
                    ("bucket", 22, "text"),
                    ("count", 10, "int"),
                    ("poverty", 12, "int"),
                    ("disabled", 12, "int"),
                    ("meaning", 60, "text"),
                )
            ],
            tz,
        )
        summary.append(list(_summary_rows(proposal, language, changes)))
        results = XlsxSheet(book, t(language, "crosscheck.sheet.results"), _columns(language), tz)
        batch: list[list[Any]] = []
        for entry in proposal.entries:
            batch.append(result_row(entry, language))
            if len(batch) >= 2000:
                results.append(batch)
                batch = []
        results.append(batch)
        if changes is not None:
            names = ("key", "change", "before", "after", "name", "national_id")
            sheet = XlsxSheet(
                book,
                t(language, "crosscheck.sheet.changes"),
                [Column(t(language, f"crosscheck.column.{n}"), 20) for n in names],
                tz,
            )
            sheet.append(
                [
                    [
                        c.key,
                        t(language, f"crosscheck.change.{c.kind}"),
                        t(language, f"crosscheck.bucket.{c.before}") if c.before else "",
                        t(language, f"crosscheck.bucket.{c.after}") if c.after else "",
                        c.name,
                        c.national_id,
                    ]
                    for c in changes
                ]
            )
    finally:
        book.close()
    os.chmod(path, 0o600)


@dataclass(frozen=True, slots=True)
class Previous:
    bucket: str
    reason: str
    name: str
    national_id: str


def read_previous(path: Path) -> dict[str, Previous]:
    """Key → what an earlier proposal said, from its results sheet (the second sheet)."""
    check_archive(path)
    found: dict[str, Previous] = {}
    name_at, id_at = 7, 8
    try:
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheets = book.worksheets
            rows = sheets[1].iter_rows(values_only=True) if len(sheets) > 1 else iter(())
            next(rows, None)
            for cells in rows:
                key = cell_text(cells[KEY]) if cells else None
                if (
                    not key
                    or not key.startswith("CC-")
                    or len(cells) <= id_at
                    or cells[BUCKET] not in BUCKETS
                ):
                    continue
                found[key] = Previous(
                    str(cells[BUCKET]),
                    cell_text(cells[REASON]) or "",
                    cell_text(cells[name_at]) or "",
                    cell_text(cells[id_at]) or "",
                )
        finally:
            book.close()
    except (InvalidFileException, *READ_ERRORS) as exc:
        raise RosterUnreadable(
            path.name, f"无法读取上次的比对结果 (cannot read the previous proposal: {type(exc).__name__})"
        ) from None
    if not found:
        raise RosterUnreadable(path.name, "不是比对结果文件 (not a cross-check proposal)")
    return found


def changes_since(proposal: Proposal, previous: dict[str, Previous], language: str) -> list[Change]:
    """Children new since the previous proposal, gone from it, or in another bucket or for another reason."""
    changes: list[Change] = []
    seen: set[str] = set()
    for entry in proposal.entries:
        seen.add(entry.key)
        before = previous.get(entry.key)
        verdict = entry.verdict
        if before is not None and (before.bucket, before.reason) == (verdict.bucket, verdict.reason):
            continue
        row = result_row(entry, language)
        changes.append(
            Change(
                entry.key,
                "changed" if before else "new",
                before.bucket if before else "",
                verdict.bucket,
                row[7],
                row[8],
            )
        )
    for key, before in previous.items():
        if key not in seen:
            changes.append(Change(key, "gone", before.bucket, "", before.name, before.national_id))
    return changes
