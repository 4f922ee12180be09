"""Checks an .xlsx file's zip container before any XML in it is parsed.

An .xlsx is a zip of XML parts, and a few hundred kilobytes of zip can hold gigabytes of XML (a
311 KB workbook with one repeated cell took 703 MB to load). The sizes a zip declares are what
`zipfile` will inflate at most (it stops there and fails the CRC), so checking the declared sizes and
ratios up front bounds the memory a roster file can cost.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from domain.roster.format import RosterUnreadable

MiB = 1024 * 1024
MAX_PARTS = 10_000
MAX_PART_BYTES = 256 * MiB  # a 150 000-pupil sheet is ~100 MiB of XML
MAX_TOTAL_BYTES = 768 * MiB
# Sheet XML written by Excel, WPS or openpyxl compresses 8–20 times (a 20 000-row roster of near-copies:
# 15x); a bomb compresses a thousand times. Small parts are exempt: their ratio says nothing.
MAX_RATIO = 100
RATIO_FROM_BYTES = 4 * MiB
SCAN_CHUNK = 1 * MiB
FORMULA_TAGS = (b"<f>", b"<f ", b"<f/")


def check_archive(path: Path) -> None:
    """Raises RosterUnreadable when the container is damaged or would inflate beyond the caps."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RosterUnreadable(path.name, f"不是有效的 Excel 文件 (not a valid .xlsx file: {exc})") from None
    if len(infos) > MAX_PARTS:
        raise RosterUnreadable(path.name, f"文件内部件过多 (more than {MAX_PARTS} parts in the workbook)")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_PART_BYTES or (info.file_size > RATIO_FROM_BYTES and ratio > MAX_RATIO):
            raise RosterUnreadable(
                path.name,
                f"文件内容异常膨胀，已拒绝读取 (part {info.filename} would inflate to "
                f"{info.file_size // MiB} MiB, {ratio:.0f}x its stored size: refused as a decompression bomb)",
            )
    if total > MAX_TOTAL_BYTES:
        raise RosterUnreadable(
            path.name,
            f"文件解压后过大 (the workbook would inflate to {total // MiB} MiB; the cap is "
            f"{MAX_TOTAL_BYTES // MiB} MiB: split it by township)",
        )


def part_has_formulas(path: Path, part: str) -> bool:
    """Whether a worksheet part holds any formula, found by scanning its bytes (cheap, no XML parse)."""
    with zipfile.ZipFile(path) as archive, archive.open(part.lstrip("/")) as stream:
        tail = b""
        while chunk := stream.read(SCAN_CHUNK):
            window = tail + chunk
            if any(tag in window for tag in FORMULA_TAGS):
                return True
            tail = window[-3:]
    return False
