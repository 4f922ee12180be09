"""Reads roster files (.xlsx workbooks, .csv sheets) into rows of raw cell values."""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from domain.roster.archive import MiB, check_archive, part_has_formulas
from domain.roster.format import SHEETS, RosterProblem, RosterUnreadable, normalise_header

# Encodings tried in order: UTF-8 (with or without BOM), then the encoding Chinese Excel saves CSV in.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
MAX_CSV_BYTES = 200 * MiB


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


# What a damaged or hostile file raises while its rows are read: broken zip members, malformed or
# entity-laden XML (defusedxml's refusals are ValueErrors), cells openpyxl cannot convert.
READ_ERRORS = (
    ParseError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    OSError,
    csv.Error,
)
Rows = Iterator[tuple[int, Sequence[object]]]


def _why(exc: BaseException) -> str:
    """The exception as one short line (openpyxl's own messages span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def _guarded(rows: Rows, file: str, sheet: str) -> Rows:
    """The rows, with a read failure turned into one RosterUnreadable naming where it happened."""
    number = 0
    try:
        for number, cells in rows:
            yield number, cells
    except READ_ERRORS as exc:
        raise RosterUnreadable(
            file,
            f"文件已损坏或格式不正确，无法读取 (damaged or malformed: {_why(exc)})",
            sheet=sheet,
            row=number + 1,
        ) from None


def _with_formula_check(path: Path, title: str, rows: Rows, problems: list[RosterProblem]) -> Rows:
    """Reads the sheet a second time with formulas, in step with the values, and reports each formula
    cell that has no computed value (saved by a program that does not calculate): data_only reads it as
    empty, which would silently clear the field."""
    workbook = load_workbook(path, read_only=True, data_only=False)
    try:
        formulas = workbook[title].iter_rows(values_only=True)
        for (number, cells), raw in zip(rows, formulas, strict=False):
            for index, (value, source) in enumerate(zip(cells, raw, strict=False)):
                if value is None and isinstance(source, str) and source.startswith("="):
                    problems.append(
                        RosterProblem(
                            title,
                            number,
                            get_column_letter(index + 1),
                            "公式没有计算结果，请在 Excel 或 WPS 中打开并保存后再导入 "
                            "(a formula without a computed value: open and save the file, or paste values)",
                        )
                    )
            yield number, cells
    finally:
        workbook.close()


KeyOf = Callable[[str], str | None]


def _xlsx_sheets(path: Path, problems: list[RosterProblem], key_of: KeyOf = sheet_key) -> Iterator[RawSheet]:
    check_archive(path)
    try:
        # read_only streams rows, so a 100 000-row sheet does not have to fit in memory as cells.
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, *READ_ERRORS) as exc:
        raise RosterUnreadable(
            path.name, f"无法读取该 Excel 文件 (cannot read this workbook: {_why(exc)})"
        ) from None
    try:
        found = False
        for ws in workbook.worksheets:
            key = key_of(ws.title)
            if key is None:
                continue  # instructions or the user's own notes
            if ws.sheet_state != "visible":
                # Rows nobody sees on screen must not be imported unnoticed.
                problems.append(
                    RosterProblem(
                        ws.title,
                        0,
                        "",
                        "这张表被隐藏了，请取消隐藏并检查后再导入 (the sheet is hidden: unhide it)",
                    )
                )
                continue
            found = True
            total = ws.max_row or 0
            # Some programs write a wrong size record; without it openpyxl reads every row there is.
            ws.reset_dimensions()
            rows: Rows = enumerate(ws.iter_rows(values_only=True), start=1)
            # openpyxl keeps the part's name only in a private attribute (not in its stubs).
            part: str = ws._worksheet_path  # type: ignore[attr-defined]
            if part_has_formulas(path, part):
                rows = _with_formula_check(path, ws.title, rows, problems)
            yield RawSheet(key, ws.title, _guarded(rows, path.name, ws.title), total)
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


def _csv_sheet(path: Path, problems: list[RosterProblem], key_of: KeyOf = sheet_key) -> Iterator[RawSheet]:
    key = key_of(path.stem)
    if key is None:
        names = "、".join(f"{s.zh}.csv" for s in SHEETS.values())
        problems.append(
            RosterProblem(
                path.name, 0, "", f"文件名应说明是哪张表，如 {names} (file name must name the sheet)"
            )
        )
        return
    if path.stat().st_size > MAX_CSV_BYTES:
        raise RosterUnreadable(path.name, f"CSV 文件过大 (larger than {MAX_CSV_BYTES // MiB} MiB: split it)")
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
    # The csv module refuses a field over 128 KiB (no roster cell is near it): a clear line, not a traceback.
    rows = list(_guarded(enumerate(csv.reader(io.StringIO(text, newline="")), start=1), path.name, ""))
    yield RawSheet(key, path.name, iter(rows), len(rows))


def _without_nul(rows: Iterator[tuple[int, Sequence[object]]]) -> Iterator[tuple[int, Sequence[object]]]:
    """Cells with NUL characters (left by some exporting programs) lose them: PostgreSQL cannot store
    NUL in text, and it is never meant, so stripping is kinder than refusing the whole file."""
    for number, cells in rows:
        yield number, [c.replace("\x00", "") if isinstance(c, str) else c for c in cells]


def raw_sheets(
    paths: Sequence[Path], problems: list[RosterProblem], key_of: KeyOf = sheet_key
) -> Iterator[RawSheet]:
    """Every recognised sheet of the files, in the order given; file-level problems are appended.
    `key_of` names the sheet a worksheet title or CSV stem stands for (the roster's sheets by default)."""
    seen: dict[str, str] = {}
    for path in paths:
        suffix = path.suffix.lower()
        if not path.is_file():
            problems.append(RosterProblem(path.name, 0, "", "文件不存在 (file not found)"))
            continue
        if suffix == ".xlsx":
            sheets = _xlsx_sheets(path, problems, key_of)
        elif suffix == ".csv":
            sheets = _csv_sheet(path, problems, key_of)
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
