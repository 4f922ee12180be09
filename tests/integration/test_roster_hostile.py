"""Damaged, hostile and scope-changing roster files: one clear line, exit 2 (or the rows named), and
nothing imported (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings
from domain.audit import Actor
from domain.clock import FixedClock
from domain.roster.importer import RosterInvalid, import_roster
from storage.models import Area, School, Student
from storage.uow import UnitOfWorkFactory
from tests.fixtures.roster import Sheets, good_sheets, write_csv, write_xlsx

runner = CliRunner()
SHEET = "xl/worksheets/sheet5.xml"  # 学生, the fifth sheet good_sheets() writes
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
    + b"]>"
)


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _rewrite(src: Path, dst: Path, change: Callable[[str, bytes], bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
    return dst


def _in_sheet(edit: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda name, data: edit(data) if name == SHEET else data


def _bomb(tmp: Path) -> Path:
    # 64 MiB of one repeated character in a cell: about 64 KiB once deflated.
    cell = b'<row r="99"><c r="A99" t="inlineStr"><is><t>' + b"A" * (64 << 20) + b"</t></is></c></row>"
    return _rewrite(
        write_xlsx(tmp / "src.xlsx", good_sheets()),
        tmp / "bomb.xlsx",
        _in_sheet(lambda d: d.replace(b"</sheetData>", cell + b"</sheetData>")),
    )


def _malformed(tmp: Path) -> Path:
    return _rewrite(
        write_xlsx(tmp / "src.xlsx", good_sheets()),
        tmp / "malformed.xlsx",
        _in_sheet(lambda d: d[: len(d) // 2]),
    )


def _entities(tmp: Path) -> Path:
    def edit(data: bytes) -> bytes:
        body = re.sub(rb"^<\?xml[^>]*\?>", b"", data)
        cell = b'<row r="99"><c r="A99" t="inlineStr"><is><t>&i;</t></is></c></row>'
        return ENTITY_BOMB + body.replace(b"</sheetData>", cell + b"</sheetData>")

    return _rewrite(write_xlsx(tmp / "src.xlsx", good_sheets()), tmp / "entities.xlsx", _in_sheet(edit))


def _broken_part(tmp: Path) -> Path:
    src = write_xlsx(tmp / "src.xlsx", good_sheets())
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + 40):  # scramble the deflated bytes of one part
        raw[i] ^= 0x5A
    (tmp / "broken.xlsx").write_bytes(bytes(raw))
    return tmp / "broken.xlsx"


def _long_csv_field(tmp: Path) -> Path:
    rows = good_sheets()["学生"]
    rows[1] = [*rows[1][:8], "x" * 200_000, *rows[1][9:]]
    return write_csv(tmp / "学生.csv", rows)


def _counts(url: str) -> tuple[int, int]:
    import asyncio

    from storage.db import make_engine

    async def count() -> tuple[int, int]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                areas = await conn.scalar(select(func.count()).select_from(Area))
                students = await conn.scalar(select(func.count()).select_from(Student))
                return int(areas or 0), int(students or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_bomb, "decompression bomb"),
        (_malformed, "malformed"),
        (_entities, "cannot read this workbook"),
        (_broken_part, "cannot read this workbook"),
        (_long_csv_field, "field larger than field limit"),
    ],
    ids=["bomb", "malformed-xml", "entity-bomb", "broken-part", "long-csv-field"],
)
def test_an_unreadable_file_is_one_line_and_exit_2(
    env: str, tmp_path: Path, make: Callable[[Path], Path], says: str
) -> None:
    path = make(tmp_path)
    result = runner.invoke(cli, ["import-roster", str(path)])
    assert result.exit_code == 2, result.output
    # Progress lines ("  学生: 3/5") aside, the refusal is one line.
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("  ")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(path.name) and says in lines[0] and "nothing was imported" in lines[0]
    assert "Traceback" not in result.output
    if path.suffix == ".csv":
        assert lines[0].startswith(f"{path.name}/2:")  # the row where the field is
    assert _counts(env) == (0, 0)


async def _import(uow_factory: UnitOfWorkFactory, clock: FixedClock, path: Path) -> object:
    return await import_roster(uow_factory, [path], now=clock.now(), actor=Actor.system("cli"))


async def _refused(uow_factory: UnitOfWorkFactory, clock: FixedClock, path: Path) -> list[str]:
    with pytest.raises(RosterInvalid) as refused:
        await _import(uow_factory, clock, path)
    return [str(p) for p in refused.value.problems]


async def test_a_hidden_sheet_is_refused(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    path = write_xlsx(tmp_path / "r.xlsx", good_sheets())
    for state in ("hidden", "veryHidden"):
        wb = load_workbook(path)
        wb["学生"].sheet_state = state
        wb.save(tmp_path / f"{state}.xlsx")
        problems = await _refused(uow_factory, clock, tmp_path / f"{state}.xlsx")
        assert any(p.startswith("学生:") and "hidden" in p for p in problems), problems
    async with uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Student)) == 0


async def test_a_formula_without_a_computed_value_is_an_error(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    sheets = good_sheets()
    sheets["学生"][2][8] = '="测试"&"家长"'  # guardian name, C3… a formula openpyxl saves uncomputed
    problems = await _refused(uow_factory, clock, write_xlsx(tmp_path / "r.xlsx", sheets))
    assert problems == [f"学生/3/I: {problems[0].split(': ', 1)[1]}"] and "formula" in problems[0]

    # The same formula with the value Excel saved beside it imports that value.
    def cached(data: bytes) -> bytes:
        return re.sub(
            rb'(<c r="I3")([^>]*)><f>(.*?)</f><v\s*/>',
            rb'\1 t="str"><f>\3</f><v>' + "测试家长".encode() + b"</v>",
            data,
        )

    path = _rewrite(tmp_path / "r.xlsx", tmp_path / "cached.xlsx", _in_sheet(cached))
    await _import(uow_factory, clock, path)
    async with uow_factory() as uow:
        pupil = await uow.students.by_number(str(sheets["学生"][2][0]))
        assert pupil is not None and pupil.guardian_name == "测试家长"


def _second_county(sheets: Sheets) -> Sheets:
    sheets = copy.deepcopy(sheets)
    sheets["区域"] += [["TC2", "测试二县", "县", None], ["TT2", "测试二镇", "乡镇", "TC2"]]
    return sheets


async def test_an_import_may_not_move_scope_between_counties(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    base = _second_county(good_sheets())
    await _import(uow_factory, clock, write_xlsx(tmp_path / "base.xlsx", base))

    demoted = copy.deepcopy(base)
    demoted["区域"][1] = ["TC", "测试县", "乡镇", "TC2"]  # the county made a township of the other
    problems = await _refused(uow_factory, clock, write_xlsx(tmp_path / "demoted.xlsx", demoted))
    assert any(p.startswith("区域/2/级别") for p in problems), problems

    moved_school = copy.deepcopy(base)
    moved_school["学校"][1][2] = "TT2"
    problems = await _refused(uow_factory, clock, write_xlsx(tmp_path / "school.xlsx", moved_school))
    assert problems == [p for p in problems if p.startswith("学校/2/")] and "TC2" in problems[0], problems

    moved_township = copy.deepcopy(base)
    moved_township["区域"][2][3] = "TC2"
    problems = await _refused(uow_factory, clock, write_xlsx(tmp_path / "township.xlsx", moved_township))
    assert any(p.startswith("区域/3/上级编码") and "county" in p for p in problems), problems

    async with uow_factory() as uow:
        school = await uow.session.scalar(select(School).where(School.code == "TS1"))
        township = await uow.directory.area_by_code("TT")
        county = await uow.directory.area_by_code("TC")
        assert school is not None and township is not None and county is not None
        assert school.area_id == township.id and township.parent_id == county.id and county.level == "county"


async def test_a_loop_of_parents_is_refused_and_a_move_within_the_county_is_not(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    base = good_sheets()
    base["区域"].append(["TT3", "测试三镇", "乡镇", "TC"])
    await _import(uow_factory, clock, write_xlsx(tmp_path / "base.xlsx", base))

    looped = copy.deepcopy(base)
    looped["区域"][3] = ["TV1", "测试一村", "村", "TV2"]
    looped["区域"][4] = ["TV2", "测试二村", "村", "TV1"]
    problems = await _refused(uow_factory, clock, write_xlsx(tmp_path / "loop.xlsx", looped))
    assert any(p.startswith("区域/4/上级编码") and "loop" in p for p in problems), problems
    assert any(p.startswith("区域/5/上级编码") and "loop" in p for p in problems), problems

    within = copy.deepcopy(base)
    within["学校"][1][2] = "TT3"  # another township of the same county: a normal correction
    await _import(uow_factory, clock, write_xlsx(tmp_path / "within.xlsx", within))
    async with uow_factory() as uow:
        school = await uow.session.scalar(select(School).where(School.code == "TS1"))
        township = await uow.directory.area_by_code("TT3")
        assert school is not None and township is not None and school.area_id == township.id
