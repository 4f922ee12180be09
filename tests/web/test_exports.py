"""Ledger exports: official headers, layout, row counts, masking, CSV, scope and audit."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.policy import Policy
from domain.reports import ledgers
from storage.uow import UnitOfWorkFactory
from tests.web import ledger_cases
from tests.web.conftest import AsUser
from tests.web.county import County
from tests.web.ledger_cases import add_ledger_cases


async def sheet_of(as_user: AsUser, username: str, url: str) -> Worksheet:
    client = await as_user(username)
    reply = await client.get(url)
    assert reply.status_code == 200, reply.text[:300]
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in reply.headers["content-disposition"]
    return load_workbook(io.BytesIO(reply.content)).active  # type: ignore[return-value]


def rows_of(ws: Worksheet) -> list[dict[str, object]]:
    header = [str(c.value) for c in ws[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]


@pytest.fixture
async def more_cases(uow_factory: UnitOfWorkFactory, county: County, policy: Policy) -> dict[str, int]:
    return await add_ledger_cases(uow_factory, county, policy)


@pytest.mark.parametrize("kind", ledgers.KINDS)
async def test_each_ledger_has_the_official_layout(as_user: AsUser, county: County, kind: str) -> None:
    ws = await sheet_of(as_user, "principal", f"/exports/{kind}.xlsx")
    assert [c.value for c in ws[1]] == [c.header for c in ledgers.columns(kind)]
    assert ws[1][0].value == "序号" and ws[1][1].value == "个案编号"
    assert ws.freeze_panes == "A2" and ws.title == ledgers.title(kind)
    assert ws.column_dimensions["A"].width == 6 and ws.column_dimensions["C"].width == 22


def test_the_ledgers_have_the_columns_of_the_official_forms() -> None:
    headers = {kind: {c.header for c in ledgers.columns(kind)} for kind in ledgers.KINDS}
    assert {
        "辍学时间",
        "复学时间",
        "销号时间",
        "去向",
        "户籍地",
        "现住址",
        "劝返措施",
        "承包老师",
        "村干部",
    } <= (headers["dropout"])
    assert {"去向", "核查情况", "户籍地", "现住址"} <= headers["suspected"]


async def test_suspected_ledger_lists_the_suspected_ledger_statuses_only(
    as_user: AsUser, county: County, more_cases: dict[str, int]
) -> None:
    rows = rows_of(await sheet_of(as_user, "principal", "/exports/suspected.xlsx"))
    # B is a plain absence and J was cleared: neither is a suspected dropout.
    assert [r["学生姓名"] for r in rows] == [county.students["G"].name, county.students["H"].name]
    g, h = rows
    assert g["当前状态"] == "核查中" and g["分类代码"] == "I" and g["去向"] == "因病因残"
    assert g["核查情况"] == "I 因病因残：住院治疗，医院证明已存档"
    assert g["首次缺勤日期"] == datetime(2026, 9, 21) and g["缺勤天数(自然日)"] == 22
    assert g["承包老师"] == "李老师" and g["村干部"] == "孙主任" and g["性别"] in ("男", "女")
    assert h["当前状态"] == "失踪失联" and h["去向"] == "失踪失联"
    assert h["核查情况"] == "G 失踪失联：报案回执 派出所报案回执 2026-118"


async def test_an_unverified_case_has_no_verification_outcome(as_user: AsUser, county: County) -> None:
    everyone = rows_of(await sheet_of(as_user, "county", "/exports/suspected.xlsx"))
    assert [r["学生姓名"] for r in everyone] == [county.students["E"].name]
    e = everyone[0]
    assert e["分类代码"] == "A3" and e["核查情况"] is None and e["去向"] == "因病因残"
    assert e["核查截止日期"] == datetime(2026, 10, 16)  # opened 1 Oct: 15 days from opening


async def test_dropout_ledger_keeps_returned_and_closed_dropouts(
    as_user: AsUser, county: County, more_cases: dict[str, int]
) -> None:
    rows = rows_of(await sheet_of(as_user, "township", "/exports/dropout.xlsx"))
    names = {county.students[k].name: k for k in "ACF"}
    assert [names.get(str(r["学生姓名"])) for r in rows] == ["F", "A", "C"]  # class a, by opening
    f, a, c = rows
    assert f["当前状态"] == "已销号" and f["辍学时间"] == datetime(2026, 9, 8)
    assert f["复学时间"] == datetime(2026, 9, 25) and f["销号时间"] == datetime(2026, 10, 10)
    assert f["去向"] == "已复学" and f["劝返次数"] == 2 and f["最近劝返日期"] == datetime(2026, 9, 12)
    assert f["劝返措施"] == "家访2次（入户家访1次、电话1次）；送达《劝返复学通知书》；书面上报；责令限期改正"
    assert f["户籍地"] == "测试县示范****" and f["现住址"] == "测试市新区****"  # no PII right
    assert f["承包老师"] == "王老师" and f["村干部"] == "刘主任"
    assert a["当前状态"] == "保学跟踪" and a["辍学时间"] == datetime(2026, 9, 20)
    assert a["复学时间"] == datetime(2026, 10, 8) and a["销号时间"] is None and a["去向"] == "已复学"
    assert a["劝返措施"] == "家访2次（入户家访2次）" and a["户籍地"] is None
    assert c["当前状态"] == "已送达《劝返复学通知书》" and c["辍学时间"] == datetime(2026, 10, 2)
    assert c["去向"] == "拒绝返校" and c["劝返措施"] == "家访1次（入户家访1次）；送达《劝返复学通知书》"
    assert (
        c["《劝返复学通知书》返校期限"] == datetime(2026, 10, 10)
        and c["重点群体"] == "家庭经济困难/脱贫户/监测户"
    )
    assert c["复学时间"] is None and c["销号时间"] is None
    full = rows_of(await sheet_of(as_user, "admin", "/exports/dropout.xlsx"))
    assert (full[0]["户籍地"], full[0]["现住址"]) == (ledger_cases.REGISTERED, ledger_cases.LIVES)


async def test_dropout_ledger_reads_a_constant_number_of_queries(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, engine: AsyncEngine, policy: Policy
) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    client = await as_user("admin")
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        assert (await client.get("/exports/dropout.csv")).status_code == 200
        few = len(statements)
        await add_ledger_cases(uow_factory, county, policy)
        statements.clear()
        assert (await client.get("/exports/dropout.csv")).status_code == 200
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == few  # more rows, no more queries


async def test_persuasion_record_has_one_row_per_attempt(as_user: AsUser, county: County) -> None:
    ws = await sheet_of(as_user, "principal", "/exports/persuasion.xlsx")
    rows = rows_of(ws)
    a, c = county.students["A"].name, county.students["C"].name
    assert [(r["学生姓名"], r["第几次"], r["劝返日期"]) for r in rows] == [
        (a, 1, datetime(2026, 9, 22)),
        (a, 2, datetime(2026, 10, 5)),
        (c, 1, datetime(2026, 10, 3)),
    ]
    assert (
        rows[0]["结果"] == "拒绝返校"
        and rows[0]["参与人员"] == "王老师、刘主任"
        and rows[0]["备注"] == "家长外出务工"
    )
    assert rows[1]["承诺返校日期"] == datetime(2026, 10, 8) and rows[2]["送达《劝返复学通知书》"] == "是"
    assert {r["方式"] for r in rows} == {"入户家访"}  # visits recorded before the mode existed
    assert ws.cell(row=2, column=9).number_format == "yyyy-mm-dd"  # a real date, shown as a date
    assert ws.cell(row=2, column=19).number_format == "yyyy-mm-dd hh:mm"


async def test_persuasion_record_shows_how_each_visit_was_made(
    as_user: AsUser, county: County, more_cases: dict[str, int]
) -> None:
    rows = rows_of(await sheet_of(as_user, "principal", "/exports/persuasion.xlsx"))
    methods = {(r["学生姓名"], r["第几次"]): r["方式"] for r in rows}
    f, g = county.students["F"].name, county.students["G"].name
    assert (methods[(f, 1)], methods[(f, 2)], methods[(g, 1)]) == ("电话", "入户家访", "视频")


async def test_ids_are_masked_unless_the_user_may_export_them(as_user: AsUser, county: County) -> None:
    e = county.students["E"]
    [masked] = rows_of(await sheet_of(as_user, "county", "/exports/suspected.xlsx"))
    assert masked["身份证号"] == "110101********1234" and masked["学籍号"] == "G110101********1234"
    assert masked["监护人电话"] == "139****5678"
    [full] = rows_of(await sheet_of(as_user, "admin", "/exports/suspected.xlsx"))
    assert full["身份证号"] == e.national_id and full["学籍号"] == e.student_number
    assert full["监护人电话"] == e.guardian_phone


async def test_csv_export_is_utf8_with_bom_and_the_same_rows(as_user: AsUser, county: County) -> None:
    client = await as_user("county")
    reply = await client.get("/exports/persuasion.csv")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert table[0] == [c.header for c in ledgers.columns("persuasion")]
    assert len(table) == 1 + 3 and table[1][8] == "2026-09-22" and table[1][18] == "2026-09-22 18:00"


async def test_dropout_csv_has_the_return_and_closing_dates(
    as_user: AsUser, county: County, more_cases: dict[str, int]
) -> None:
    client = await as_user("county")
    reply = await client.get("/exports/dropout.csv")
    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    closed = next(r for r in rows if r["学生姓名"] == county.students["F"].name)
    assert (closed["辍学时间"], closed["复学时间"], closed["销号时间"]) == (
        "2026-09-08",
        "2026-09-25",
        "2026-10-10",
    )
    assert len(rows) == 3


async def test_exports_follow_the_case_filters(as_user: AsUser, county: County) -> None:
    client = await as_user("county")
    w = county.world

    async def rows(url: str) -> int:
        reply = await client.get(url)
        return len(list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))) - 1

    assert await rows(f"/exports/suspected.csv?school={county.school2.id}") == 1
    assert await rows(f"/exports/suspected.csv?school={w.school.id}") == 0
    assert await rows(f"/exports/dropout.csv?school={w.school.id}") == 2
    assert await rows("/exports/dropout.csv?status=retention") == 1
    assert await rows("/exports/persuasion.csv?key_group=low_income") == 1


async def test_exports_outside_ones_area_answer_404(as_user: AsUser, county: County) -> None:
    client = await as_user("principal")
    for url in (
        f"/exports/suspected.xlsx?school={county.school2.id}",
        f"/exports/persuasion.csv?school={county.school2.id}",
        f"/exports/monthly.xlsx?school={county.school2.id}&month=2026-10",
        "/exports/unknown.xlsx",
        "/exports/suspected.pdf",
        "/exports/monthly.xlsx?school=99999999999",
    ):
        assert (await client.get(url)).status_code == 404, url
    for month in ("9999-12", "2026-13", "soon"):
        url = f"/exports/monthly.xlsx?school={county.world.school.id}&month={month}"
        assert (await client.get(url)).status_code == 400, url


async def test_every_export_is_audited(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("admin")
    await client.get("/exports/dropout.xlsx")
    await client.get(f"/exports/monthly.xlsx?school={county.world.school.id}&month=2026-09")
    async with uow_factory() as uow:
        entries = await uow.audit.entries("export")
    assert [(e.entity, e.entity_id, e.detail.get("pii")) for e in entries] == [
        ("ledger", "dropout", True),
        ("monthly_report", f"{county.world.school.id}:2026-09", True),
    ]
    assert entries[0].detail["rows"] == 2 and entries[0].actor_label == "web:admin"
