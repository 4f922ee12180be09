"""CSV ledgers never hand Excel or WPS a formula: text starting with = + - @ tab or CR is made inert
with a leading apostrophe (OWASP's advice); numbers stay numbers (issue 15)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from domain.reports.sheets import Column, Sheet, write_csv
from storage.models import Case, CaseEvent, Student
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import County

TZ = ZoneInfo("Asia/Shanghai")
LINK = '=HYPERLINK("http://127.0.0.1/x","点此")'
NOTE = "@SUM(1+1)*cmd|' /C calc'!A0"


async def test_text_cells_that_start_a_formula_get_an_apostrophe(tmp_path: Path) -> None:
    columns = [Column("序号", 6, "int"), Column("文字", 20), Column("数", 8, "int")]

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for i, text in enumerate([LINK, NOTE, "+86 139", "-1", "\tx", "\rx", "张三 = 李四", "", None]):
            yield [i + 1, text, -5 if i == 0 else "-7"]

    assert await write_csv(tmp_path / "t.csv", Sheet("t", columns, rows()), TZ) == 9
    table = list(csv.reader(io.StringIO((tmp_path / "t.csv").read_bytes().decode("utf-8-sig"), newline="")))
    assert [r[1] for r in table[1:]] == [
        "'" + LINK,
        "'" + NOTE,
        "'+86 139",
        "'-1",
        "'\tx",
        "'\rx",
        "张三 = 李四",  # not at the start: harmless
        "",
        "",
    ]
    assert table[1][2] == "-5" and table[2][2] == "'-7"  # a number stays a number; text does not run


async def test_a_pupils_name_and_a_visit_note_reach_the_csv_ledger_inert(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    pupil = county.students["A"]
    async with uow_factory() as uow:
        student = await uow.session.get(Student, pupil.id)
        assert student is not None
        student.name = LINK
        visit = (
            await uow.session.scalars(
                select(CaseEvent)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(Case.student_id == pupil.id, CaseEvent.kind == "visit_logged")
                .order_by(CaseEvent.id)
            )
        ).first()
        assert visit is not None
        visit.data = {**visit.data, "note": NOTE}
        await uow.commit()
    client = await as_user("county")
    reply = await client.get("/exports/persuasion.csv")
    assert reply.status_code == 200
    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"), newline="")))
    header, rows = table[0], [dict(zip(table[0], r, strict=True)) for r in table[1:]]
    assert "学生姓名" in header and "备注" in header
    mine = [r for r in rows if r["学生姓名"].endswith(LINK)]
    assert mine and all(r["学生姓名"] == "'" + LINK for r in mine)
    assert "'" + NOTE in [r["备注"] for r in mine]
    assert not any(cell.startswith(("=", "@")) for row in table for cell in row)
