"""Reads roster files (.xlsx workbooks, .csv sheets) into rows of raw cell values."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from domain.roster_format import SHEETS, RosterProblem, normalise_header

# Encodings tried in order: UTF-8 (with or without BOM), then the encoding Chinese Excel saves CSV in.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass
class RawSheet:
    """One sheet's rows as (spreadsheet row number, cell values), header row included."""

    key: str
    label: str
    rows: Iterator[tuple[int, Sequence[object]]]
    total: int  # approximate number of rows, for progress only (0 when unknown)


def sheet_key(name: str) -> str | None:
    """Which sheet a worksheet title or CSV file stem names (学生, students, …), or None."""
    wanted = normalise_header(name)
    for spec in SHEETS.values():
        if wanted in {normalise_header(n) for n in (spec.key, spec.zh, *spec.aliases)}:
            return spec.key
    return None


def _xlsx_sheets(path: Path, problems: list[RosterProblem]) -> Iterator[RawSheet]:
    try:
        # read_only streams rows, so a 100 000-row sheet does not have to fit in memory as cells.
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError) as exc:
        problems.append(
            RosterProblem(path.name, 0, "", f"无法读取该 Excel 文件 (cannot read this workbook): {exc}")
        )
        return
    try:
        found = False
        for ws in workbook.worksheets:
            key = sheet_key(ws.title)
            if key is None:
                continue  # instructions or the user's own notes
            found = True
            total = ws.max_row or 0
            # Some programs write a wrong size record; without it openpyxl reads every row there is.
            ws.reset_dimensions()
            yield RawSheet(key, ws.title, enumerate(ws.iter_rows(values_only=True), start=1), total)
        if not found:
            names = "、".join(s.zh for s in SHEETS.values())
            problems.append(
                RosterProblem(
                    path.name, 0, "", f"没有可识别的工作表，应为 {names} (no sheet with a known name)"
                )
            )
    finally:
        workbook.close()


def _decode(data: bytes) -> str | None:
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _csv_sheet(path: Path, problems: list[RosterProblem]) -> Iterator[RawSheet]:
    key = sheet_key(path.stem)
    if key is None:
        names = "、".join(f"{s.zh}.csv" for s in SHEETS.values())
        problems.append(
            RosterProblem(
                path.name, 0, "", f"文件名应说明是哪张表，如 {names} (file name must name the sheet)"
            )
        )
        return
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        problems.append(RosterProblem(path.name, 0, "", f"无法读取文件 (cannot read the file): {exc}"))
        return
    if text is None:
        problems.append(
            RosterProblem(
                path.name, 0, "", "文件编码无法识别，请另存为 UTF-8 CSV (not UTF-8 or GB18030 text)"
            )
        )
        return
    rows = list(csv.reader(io.StringIO(text, newline="")))
    yield RawSheet(key, path.name, enumerate(rows, start=1), len(rows))


def _without_nul(rows: Iterator[tuple[int, Sequence[object]]]) -> Iterator[tuple[int, Sequence[object]]]:
    """Cells with NUL characters (left by some exporting programs) lose them: PostgreSQL cannot store
    NUL in text, and it is never meant, so stripping is kinder than refusing the whole file."""
    for number, cells in rows:
        yield number, [c.replace("\x00", "") if isinstance(c, str) else c for c in cells]


def raw_sheets(paths: Sequence[Path], problems: list[RosterProblem]) -> Iterator[RawSheet]:
    """Every recognised sheet of the files, in the order given; file-level problems are appended."""
    seen: dict[str, str] = {}
    for path in paths:
        suffix = path.suffix.lower()
        if not path.is_file():
            problems.append(RosterProblem(path.name, 0, "", "文件不存在 (file not found)"))
            continue
        if suffix == ".xlsx":
            sheets = _xlsx_sheets(path, problems)
        elif suffix == ".csv":
            sheets = _csv_sheet(path, problems)
        else:
            problems.append(RosterProblem(path.name, 0, "", "只支持 .xlsx 或 .csv 文件 (only .xlsx or .csv)"))
            continue
        for sheet in sheets:
            if sheet.key in seen:
                problems.append(
                    RosterProblem(
                        sheet.label,
                        0,
                        "",
                        f"与 {seen[sheet.key]} 是同一张表，只能提供一次 (the same sheet was given twice)",
                    )
                )
                continue
            seen[sheet.key] = sheet.label
            sheet.rows = _without_nul(sheet.rows)
            yield sheet
