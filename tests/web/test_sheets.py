"""Spreadsheet writers stream: rows are written while they are produced, never gathered first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from domain import sheets
from domain.sheets import BATCH, Column, Sheet, write_csv, write_xlsx

TZ = ZoneInfo("Asia/Shanghai")
COLUMNS = [Column("序号", 6, "int"), Column("日期", 12, "date"), Column("时间", 17, "datetime"), Column("文字", 20)]
ROWS = 5 * BATCH + 7


async def test_xlsx_rows_are_written_while_they_are_produced(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    written = 0
    original = sheets._XlsxSheet.append

    def counting(self: Any, rows: list[Sequence[Any]]) -> None:
        nonlocal written
        original(self, rows)
        written += len(rows)

    monkeypatch.setattr(sheets._XlsxSheet, "append", counting)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for i in range(ROWS):
            # The producer is never more than one batch ahead of the writer.
            assert i - written <= BATCH
            yield [i + 1, date(2026, 10, 1), datetime(2026, 10, 1, 1, 30, tzinfo=UTC), f"第{i}行"]

    assert await write_xlsx(tmp_path / "big.xlsx", [Sheet("大表", COLUMNS, rows())], TZ) == ROWS
    ws = load_workbook(tmp_path / "big.xlsx", read_only=True)["大表"]
    last = list(ws.iter_rows(min_row=ROWS + 1, values_only=True))
    assert last == [(ROWS, datetime(2026, 10, 1), datetime(2026, 10, 1, 9, 30), f"第{ROWS - 1}行")]


async def test_csv_has_a_bom_local_times_and_iso_dates(tmp_path: Path) -> None:
    async def rows() -> AsyncIterator[Sequence[Any]]:
        yield [1, date(2026, 10, 1), datetime(2026, 10, 1, 1, 30, tzinfo=UTC), None]

    assert await write_csv(tmp_path / "t.csv", Sheet("t", COLUMNS, rows()), TZ) == 1
    text = (tmp_path / "t.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    assert text.decode("utf-8-sig").splitlines() == ["序号,日期,时间,文字", "1,2026-10-01,2026-10-01 09:30,"]
