"""Streaming spreadsheet writers: write-only .xlsx and UTF-8 CSV (with BOM, so Excel and WPS open it)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

BATCH = 500  # rows handed to the writer thread at a time


@dataclass(frozen=True)
class Column:
    """One column: its header text, width in characters and kind (text, int, date, datetime)."""

    header: str
    width: int = 12
    kind: str = "text"


@dataclass
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: AsyncIterator[Sequence[Any]]


def _plain(value: Any, tz: tzinfo) -> Any:
    """Excel has no time zones: datetimes are written as local wall time."""
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None)
    return value


class _XlsxSheet:
    def __init__(self, ws: WriteOnlyWorksheet, columns: Sequence[Column], tz: tzinfo) -> None:
        self.ws, self.columns, self.tz = ws, columns, tz
        for index, column in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(max(len(columns), 1))}1"
        bold, wrap = Font(bold=True), Alignment(horizontal="center", vertical="center", wrap_text=True)
        header = []
        for column in columns:
            cell = WriteOnlyCell(ws, value=column.header)
            cell.font, cell.alignment = bold, wrap
            header.append(cell)
        ws.append(header)

    def append(self, rows: list[Sequence[Any]]) -> None:
        for row in rows:
            cells: list[Any] = []
            for column, value in zip(self.columns, row, strict=True):
                if column.kind in ("date", "datetime") and value is not None:
                    cell = WriteOnlyCell(self.ws, value=_plain(value, self.tz))
                    cell.number_format = "yyyy-mm-dd" if column.kind == "date" else "yyyy-mm-dd hh:mm"
                    cells.append(cell)
                else:
                    cells.append(value)
            self.ws.append(cells)


async def _batches(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def write_xlsx(path: Path, sheets: Sequence[Sheet], tz: tzinfo) -> int:
    """Writes the sheets row by row (write-only workbook: rows go to disk, not to memory).
    Returns the number of data rows written."""
    workbook = Workbook(write_only=True)
    total = 0
    for sheet in sheets:
        writer = _XlsxSheet(workbook.create_sheet(sheet.title[:31]), sheet.columns, tz)
        async for batch in _batches(sheet.rows):
            await asyncio.to_thread(writer.append, batch)
            total += len(batch)
    await asyncio.to_thread(workbook.save, str(path))
    return total


def _csv_value(value: Any, kind: str, tz: tzinfo) -> Any:
    if value is None:
        return ""
    if kind == "datetime" and isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


async def write_csv(path: Path, sheet: Sheet, tz: tzinfo) -> int:
    """One sheet as CSV in UTF-8 with a byte-order mark. Returns the number of data rows."""
    total = 0
    handle = await asyncio.to_thread(path.open, "w", encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(handle)
        await asyncio.to_thread(writer.writerow, [c.header for c in sheet.columns])
        async for batch in _batches(sheet.rows):
            await asyncio.to_thread(writer.writerows, [
                [_csv_value(v, c.kind, tz) for c, v in zip(sheet.columns, row, strict=True)] for row in batch])
            total += len(batch)
    finally:
        await asyncio.to_thread(handle.close)
    return total
