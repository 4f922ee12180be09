"""Streaming spreadsheet writers: .xlsx (written by domain.reports.xlsx_writer) and UTF-8 CSV (with BOM, so
Excel and WPS open it)."""

from __future__ import annotations

import asyncio
import csv
import pickle
import sys
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

BATCH = 500  # rows handed to the writer at a time
IN_FLIGHT = 2  # batches sent to the .xlsx writer process and not yet written: bounds the memory used
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Column:
    """One column: its header text, width in characters and kind (text, int, date, datetime)."""

    header: str
    width: int = 12
    kind: str = "text"


@dataclass(frozen=True)
class SignOff:
    """The signature block under a sheet's rows, as official forms end (填报单位、填报人、审核人、日期, signed
    and stamped: 000_33cc3c9a67e33d36.txt): a label and a value per line (None leaves a line to sign
    on), then a box `stamp_rows` high across the sheet's columns, with `stamp` in it, for the seal.
    Written in .xlsx only."""

    lines: Sequence[tuple[str, Any]]
    stamp: str
    stamp_rows: int = 5


@dataclass
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: AsyncIterator[Sequence[Any]]
    signoff: SignOff | None = None


async def _batches(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _XlsxProcess:
    """The parent's side of domain.reports.xlsx_writer: messages down its stdin, a reply line for each batch."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process, self.stdin, self.stdout = process, process.stdin, process.stdout
        self.in_flight: deque[int] = deque()  # sizes of the batches sent and not yet written
        self.written = 0

    @classmethod
    async def start(cls) -> _XlsxProcess:
        return cls(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "domain.reports.xlsx_writer",
                cwd=PACKAGE_ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        )

    async def _stopped(self) -> RuntimeError:
        return RuntimeError(f"the .xlsx writer stopped (exit status {await self.process.wait()})")

    async def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.stdin.write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
            await self.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise await self._stopped() from None

    async def reply(self, expected: bytes) -> None:
        if (await self.stdout.readline()).strip() != expected:
            raise await self._stopped()

    async def rows(self, batch: list[Sequence[Any]]) -> None:
        if len(self.in_flight) >= IN_FLIGHT:
            await self.acknowledged()
        await self.send(("rows", batch))
        self.in_flight.append(len(batch))

    async def acknowledged(self) -> None:
        await self.reply(b"ok")
        self.written += self.in_flight.popleft()

    async def close(self) -> None:
        while self.in_flight:
            await self.acknowledged()
        await self.send(("close",))
        await self.reply(b"closed")
        if await self.process.wait():
            raise await self._stopped()

    async def kill(self) -> None:
        """Ends the writer if it still runs (the rows failed): without "close" it writes no file."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def write_xlsx(path: Path, sheets: Sequence[Sheet], tz: tzinfo) -> int:
    """Writes the sheets row by row in a writer process (rows go to disk, not to memory) while the
    next rows are read. Returns the number of data rows written."""
    total = 0
    # The writer's temporary files go to a folder of this export, removed even if the writer was killed.
    with tempfile.TemporaryDirectory(prefix="nol_xlsx_") as scratch:
        writer = await _XlsxProcess.start()
        try:
            await writer.send((str(path.resolve()), tz, scratch))  # the writer runs in another folder
            for sheet in sheets:
                await writer.send(("sheet", sheet.title, list(sheet.columns)))
                async for batch in _batches(sheet.rows):
                    await writer.rows(batch)
                    total += len(batch)
                if sheet.signoff is not None:
                    await writer.send(("signoff", sheet.signoff))
            await writer.close()
        finally:
            await writer.kill()
    return total


# Excel and WPS run a CSV cell starting with one of these as a formula (=HYPERLINK(...), @SUM, DDE), and a
# name or a note is typed by anyone: such text cells get a leading apostrophe, as OWASP recommends.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_text(value: str) -> str:
    """Text that a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _csv_cell(kind: str, tz: tzinfo) -> Callable[[Any], Any]:
    """How a column's values are written to CSV: chosen once per column, as the .xlsx writer does.
    Only text is made inert; numbers (negative ones too) stay numbers."""

    def plain(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            return inert_text(value)
        return value.isoformat() if isinstance(value, date) else value

    def moment(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        return plain(value)

    def text(value: Any) -> Any:
        return inert_text(value) if value.__class__ is str else plain(value)

    return {"datetime": moment, "text": text}.get(kind, plain)


async def write_csv(path: Path, sheet: Sheet, tz: tzinfo) -> int:
    """One sheet as CSV in UTF-8 with a byte-order mark. Returns the number of data rows."""
    total = 0
    handle = await asyncio.to_thread(path.open, "w", encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(handle)
        await asyncio.to_thread(writer.writerow, [c.header for c in sheet.columns])
        cells = [_csv_cell(c.kind, tz) for c in sheet.columns]
        async for batch in _batches(sheet.rows):
            lines = [[cell(v) for cell, v in zip(cells, row, strict=True)] for row in batch]
            await asyncio.to_thread(writer.writerows, lines)
            total += len(batch)
    finally:
        await asyncio.to_thread(handle.close)
    return total
