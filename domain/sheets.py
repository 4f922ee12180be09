"""Streaming spreadsheet writers: write-only .xlsx and UTF-8 CSV (with BOM, so Excel and WPS open it)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

BATCH = 500  # rows handed to the writer thread at a time
DATE, DATETIME = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
# XlsxWriter keeps one row in memory and streams the rest to a temporary file; cell text is never
# read as a formula or a link.
BOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
DIGIT_PIXELS = 7  # Calibri 11: a column `width` characters wide is written as exactly `width`


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


Put = Callable[[int, int, Any], Any]


class _XlsxSheet:
    """One worksheet. Each column gets its writer once, so a cell costs one call of the right kind."""

    def __init__(self, book: xlsxwriter.Workbook, title: str, columns: Sequence[Column], tz: tzinfo) -> None:
        self.ws: Worksheet = book.add_worksheet(title[:31])
        self.tz, self.row = tz, 1
        self.date = book.add_format({"num_format": DATE})
        self.datetime = book.add_format({"num_format": DATETIME})
        header = book.add_format({"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True})
        for index, column in enumerate(columns):
            self.ws.set_column_pixels(index, index, column.width * DIGIT_PIXELS)
            self.ws.write_string(0, index, column.header, header)
        self.ws.freeze_panes(1, 0)
        self.ws.autofilter(0, 0, 0, max(len(columns), 1) - 1)
        self.puts = [self._put(column.kind) for column in columns]

    def _put(self, kind: str) -> Put:
        ws, tz, other = self.ws, self.tz, self._other
        if kind == "date":
            fmt = self.date
            return lambda r, c, v: (ws.write_datetime(r, c, v, fmt) if v.__class__ is date else other(r, c, v, fmt))
        if kind == "datetime":
            fmt = self.datetime
            return lambda r, c, v: (ws.write_datetime(r, c, v.astimezone(tz).replace(tzinfo=None), fmt)
                                    if v.__class__ is datetime and v.tzinfo else other(r, c, v, fmt))
        if kind == "int":
            return lambda r, c, v: ws.write_number(r, c, v) if v.__class__ is int else other(r, c, v, self.date)
        return lambda r, c, v: (v and ws.write_string(r, c, v)) if v.__class__ is str else other(r, c, v, self.date)

    def _other(self, r: int, c: int, value: Any, date_format: Format) -> None:
        """A value not of its column's kind (None, a number in a text column, a date elsewhere)."""
        if value is None or value == "":
            return
        if isinstance(value, datetime):
            self.ws.write_datetime(r, c, _plain(value, self.tz), self.datetime)
        elif isinstance(value, date):
            self.ws.write_datetime(r, c, value, date_format)
        elif isinstance(value, str):
            self.ws.write_string(r, c, value)
        else:
            self.ws.write(r, c, value)

    def append(self, rows: list[Sequence[Any]]) -> None:
        r, puts = self.row, self.puts
        for row in rows:
            for c, (put, value) in enumerate(zip(puts, row, strict=True)):
                put(r, c, value)
            r += 1
        self.row = r


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
    """Writes the sheets row by row (rows go to disk, not to memory). Returns the number of data rows."""
    book = xlsxwriter.Workbook(str(path), BOOK_OPTIONS)
    total = 0
    for sheet in sheets:
        writer = _XlsxSheet(book, sheet.title, sheet.columns, tz)
        async for batch in _batches(sheet.rows):
            await asyncio.to_thread(writer.append, batch)
            total += len(batch)
    await asyncio.to_thread(book.close)
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
