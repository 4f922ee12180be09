"""Spreadsheet writers stream: rows are written while they are produced, never gathered first."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import xlsxwriter
from openpyxl import load_workbook

from domain.reports import sheets
from domain.reports.sheets import BATCH, IN_FLIGHT, Column, Sheet, SignOff, write_csv, write_xlsx
from domain.reports.xlsx_writer import BOOK_OPTIONS, MAX_ROWS, XlsxSheet

TZ = ZoneInfo("Asia/Shanghai")
COLUMNS = [
    Column("序号", 6, "int"),
    Column("日期", 12, "date"),
    Column("时间", 17, "datetime"),
    Column("文字", 20),
]
ROWS = 5 * BATCH + 7


async def test_xlsx_rows_are_written_while_they_are_produced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = 0
    original = sheets._XlsxProcess.acknowledged

    async def counting(self: Any) -> None:
        nonlocal written
        await original(self)
        written = self.written

    monkeypatch.setattr(sheets._XlsxProcess, "acknowledged", counting)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for i in range(ROWS):
            # The writer process has written all but the batch being gathered and those in flight.
            assert i - written <= (IN_FLIGHT + 1) * BATCH
            yield [i + 1, date(2026, 10, 1), datetime(2026, 10, 1, 1, 30, tzinfo=UTC), f"第{i}行"]

    assert await write_xlsx(tmp_path / "big.xlsx", [Sheet("大表", COLUMNS, rows())], TZ) == ROWS
    assert written >= ROWS - IN_FLIGHT * BATCH
    ws = load_workbook(tmp_path / "big.xlsx", read_only=True)["大表"]
    last = list(ws.iter_rows(min_row=ROWS + 1, values_only=True))
    assert last == [(ROWS, datetime(2026, 10, 1), datetime(2026, 10, 1, 9, 30), f"第{ROWS - 1}行")]


async def test_xlsx_layout_formats_and_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def rows() -> AsyncIterator[Sequence[Any]]:
        yield [1, date(2026, 10, 1), datetime(2026, 9, 30, 16, 5, tzinfo=UTC), "=1+1"]
        yield [None, None, None, ""]
        yield [3, datetime(2026, 10, 2, 23, 0, tzinfo=UTC), datetime(2026, 10, 2, 8, 0), 0.875]

    async def summary() -> AsyncIterator[Sequence[Any]]:
        yield ["学校", "示范小学"]

    sheet = Sheet("明细" * 20, COLUMNS, rows())  # a sheet title is cut to Excel's 31 characters
    monkeypatch.chdir(tmp_path)  # a relative path is this process's, not the writer process's
    assert await write_xlsx(Path("t.xlsx"), [sheet, Sheet("汇总", COLUMNS[3:] * 2, summary())], TZ) == 4
    book = load_workbook(tmp_path / "t.xlsx")
    ws = book["明细" * 15 + "明"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D1"
    assert [ws.column_dimensions[c].width for c in "ABCD"] == [6, 12, 17, 20]
    header = ws["A1"]
    assert header.font.b and header.alignment.horizontal == "center" and header.alignment.wrap_text
    assert [c.value for c in ws[2]] == [1, datetime(2026, 10, 1), datetime(2026, 10, 1, 0, 5), "=1+1"]
    assert ws["D2"].data_type == "s"  # text, never a formula
    assert (ws["B2"].number_format, ws["C2"].number_format) == ("yyyy-mm-dd", "yyyy-mm-dd hh:mm")
    assert [c.value for c in ws[3]] == [None, None, None, None]
    # A datetime in a date column keeps the date format, a naive one is written as it is.
    assert [c.value for c in ws[4]] == [3, datetime(2026, 10, 3, 7, 0), datetime(2026, 10, 2, 8, 0), 0.875]
    assert ws["B4"].number_format == "yyyy-mm-dd"
    assert [[c.value for c in row] for row in book["汇总"].iter_rows()] == [
        ["文字", "文字"],
        ["学校", "示范小学"],
    ]


async def test_a_sign_off_block_follows_the_last_row_across_the_columns(tmp_path: Path) -> None:
    async def rows() -> AsyncIterator[Sequence[Any]]:
        for i in range(BATCH + 1):  # past one batch: the block comes after every row, in one file pass
            yield [i, None, None, "x"]

    signoff = SignOff(
        [("填报单位", "示范小学"), ("填报人", None), ("日期", date(2026, 11, 1))], "（盖章）", 3
    )
    sheet = Sheet("t", COLUMNS, rows(), signoff=signoff)
    assert await write_xlsx(tmp_path / "t.xlsx", [sheet], TZ) == BATCH + 1
    ws = load_workbook(tmp_path / "t.xlsx")["t"]
    last = BATCH + 2  # the header, then the rows
    assert [ws.cell(last + 1, c).value for c in (1, 2)] == [None, None]  # a blank row first
    assert [[ws.cell(r, c).value for c in (1, 2)] for r in range(last + 2, last + 5)] == [
        ["填报单位", "示范小学"],
        ["填报人", None],
        ["日期", datetime(2026, 11, 1)],
    ]
    assert all(ws.cell(last + 3, c).border.bottom.style == "thin" for c in (2, 3, 4))  # a line to sign on
    assert [str(r) for r in ws.merged_cells.ranges] == [f"A{last + 6}:D{last + 8}"]
    assert ws.cell(last + 6, 1).value == "（盖章）" and ws.auto_filter.ref == "A1:D1"


async def test_a_failed_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))  # the writer process's too

    async def failing() -> AsyncIterator[Sequence[Any]]:
        for i in range(3 * BATCH):
            if i == 2 * BATCH:
                raise ConnectionError("database went away")
            yield [i, None, None, "x"]

    with pytest.raises(ConnectionError):
        await write_xlsx(tmp_path / "t.xlsx", [Sheet("t", COLUMNS, failing())], TZ)

    async def malformed() -> AsyncIterator[Sequence[Any]]:
        yield [1, None, None]  # one cell short: the writer process stops

    with pytest.raises(RuntimeError, match="writer stopped"):
        await write_xlsx(tmp_path / "t.xlsx", [Sheet("t", COLUMNS, malformed())], TZ)
    assert not (tmp_path / "t.xlsx").exists()
    assert list(scratch.iterdir()) == []  # nor the writer's temporary files


def test_rows_beyond_excels_last_row_fail_rather_than_vanish(tmp_path: Path) -> None:
    book = xlsxwriter.Workbook(str(tmp_path / "t.xlsx"), BOOK_OPTIONS)
    sheet = XlsxSheet(book, "t", COLUMNS, TZ)
    sheet.row = MAX_ROWS - 1
    sheet.append([[1, None, None, "last"]])
    with pytest.raises(ValueError, match="more rows"):
        sheet.append([[2, None, None, "one too many"]])
    book.close()


async def test_csv_has_a_bom_local_times_and_iso_dates(tmp_path: Path) -> None:
    async def rows() -> AsyncIterator[Sequence[Any]]:
        yield [1, date(2026, 10, 1), datetime(2026, 10, 1, 1, 30, tzinfo=UTC), None]

    assert await write_csv(tmp_path / "t.csv", Sheet("t", COLUMNS, rows()), TZ) == 1
    text = (tmp_path / "t.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    assert text.decode("utf-8-sig").splitlines() == ["序号,日期,时间,文字", "1,2026-10-01,2026-10-01 09:30,"]
