"""The .xlsx writer process: `python -m domain.reports.xlsx_writer` reads pickled messages on stdin from
domain.reports.sheets.write_xlsx (its own parent, never anyone else) and writes the workbook with XlsxWriter.

Writing the cells is most of an export's time and holds the GIL, so it runs in its own process and
overlaps with the database reads instead of taking turns with them.

Messages: (path, tz, a scratch folder for XlsxWriter's temporary files) first, then
("sheet", title, columns), ("rows", [row, ...]), ("signoff", SignOff) after a sheet's rows, and ("close",).
Replies on stdout, one line each: "ok" per batch of rows written, "closed" when the file is complete.
Without "close" (the parent failed or went away) no file is written."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import xlsxwriter
from xlsxwriter.format import Format

if TYPE_CHECKING:
    from domain.reports.sheets import Column, SignOff  # unpickling the columns imports them

DATE, DATETIME = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
SIGNED_DATE = 'yyyy"年"m"月"d"日"'  # how a form's date is written by hand
# XlsxWriter keeps one row in memory and streams the rest to a temporary file; cell text is never
# read as a formula or a link.
BOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
DIGIT_PIXELS = 7  # Calibri 11: a column `width` characters wide is written as exactly `width`
MAX_ROWS = 1_048_576  # of an Excel sheet; XlsxWriter would drop the cells below it without a word

Put = Callable[[int, int, Any], object]


class XlsxSheet:
    """One worksheet. Each column gets its cell writer once, so a cell costs one call of the right kind."""

    def __init__(self, book: xlsxwriter.Workbook, title: str, columns: Sequence[Column], tz: tzinfo) -> None:
        self.ws = book.add_worksheet(title[:31])
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
        self.book, self.width = book, max(len(columns), 1)

    def _put(self, kind: str) -> Put:
        ws, tz, other = self.ws, self.tz, self._other
        date_format, datetime_format = self.date, self.datetime

        def text(r: int, c: int, v: Any) -> object:
            if v.__class__ is not str:
                return other(r, c, v, None)
            return v and ws.write_string(r, c, v)  # "" stays a blank cell

        def number(r: int, c: int, v: Any) -> object:
            return ws.write_number(r, c, v) if v.__class__ is int else other(r, c, v, None)

        def day(r: int, c: int, v: Any) -> object:
            return (
                ws.write_datetime(r, c, v, date_format)
                if v.__class__ is date
                else other(r, c, v, date_format)
            )

        def moment(r: int, c: int, v: Any) -> object:
            if v.__class__ is datetime and v.tzinfo is not None:  # Excel has no time zones: local wall time
                return ws.write_datetime(r, c, v.astimezone(tz).replace(tzinfo=None), datetime_format)
            return other(r, c, v, datetime_format)

        return {"date": day, "datetime": moment, "int": number}.get(kind, text)

    def _other(self, r: int, c: int, value: Any, column_format: Format | None) -> None:
        """A value not of its column's kind: None, a number in a text column, a datetime in a date column
        (shown as a date). Dates outside date and datetime columns get the format of their type."""
        if value is None or value == "":
            return
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(self.tz).replace(tzinfo=None)
            self.ws.write_datetime(r, c, value, column_format or self.datetime)
        elif isinstance(value, date):
            self.ws.write_datetime(r, c, value, column_format or self.date)
        elif isinstance(value, str):
            self.ws.write_string(r, c, value)
        else:
            self.ws.write(r, c, value)

    def append(self, rows: Sequence[Sequence[Any]]) -> None:
        r, puts = self.row, self.puts
        if r + len(rows) > MAX_ROWS:
            raise ValueError(f"more rows than an Excel sheet holds ({MAX_ROWS:,})")
        for row in rows:
            for c, (put, value) in enumerate(zip(puts, row, strict=True)):
                put(r, c, value)
            r += 1
        self.row = r

    def signoff(self, block: SignOff) -> None:
        """The signature block one row below the last data row: label, then a ruled cell to write in
        (the value, if any, already in it), then the box for the stamp."""
        book, ws, last = self.book, self.ws, self.width - 1
        label = book.add_format({"bold": True})
        ruled = {"bottom": 1, "align": "left"}
        line, day = book.add_format(ruled), book.add_format({**ruled, "num_format": SIGNED_DATE})
        r = self.row + 1
        for text, value in block.lines:
            ws.write_string(r, 0, text, label)
            for c in range(1, last + 1):
                if c > 1 or value is None or value == "":
                    ws.write_blank(r, c, None, line)
                elif isinstance(value, date):
                    ws.write_datetime(r, c, value, day)
                else:
                    ws.write(r, c, value, line)
            r += 1
        box = book.add_format({"border": 1, "align": "center", "valign": "vcenter", "font_color": "#808080"})
        first = r + 1
        ws.merge_range(first, 0, first + max(block.stamp_rows, 2) - 1, last, block.stamp, box)
        self.row = first + max(block.stamp_rows, 2)


def serve(stdin: BinaryIO, stdout: TextIO) -> int:
    """Writes the workbook the messages describe; returns the exit status."""
    path, tz, scratch = pickle.load(stdin)
    book = xlsxwriter.Workbook(path, {**BOOK_OPTIONS, "tmpdir": scratch})
    sheet: XlsxSheet | None = None
    while True:
        try:
            message = pickle.load(stdin)
        except EOFError:
            print("xlsx writer: input ended before close; no file written", file=sys.stderr)
            return 1
        if message[0] == "sheet":
            sheet = XlsxSheet(book, message[1], message[2], tz)
        elif message[0] == "rows" and sheet is not None:
            sheet.append(message[1])
            stdout.write("ok\n")
            stdout.flush()
        elif message[0] == "signoff" and sheet is not None:
            sheet.signoff(message[1])
        elif message[0] == "close":
            book.close()
            stdout.write("closed\n")
            stdout.flush()
            return 0
        else:
            raise ValueError(f"unexpected message {message[0]!r}")


if __name__ == "__main__":
    sys.exit(serve(sys.stdin.buffer, sys.stdout))
