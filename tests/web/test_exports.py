"""Ledger exports: official headers, layout, row counts, masking, CSV, scope and audit."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from domain import ledgers
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import County


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


@pytest.mark.parametrize("kind", ledgers.KINDS)
async def test_each_ledger_has_the_official_layout(as_user: AsUser, county: County, kind: str) -> None:
    ws = await sheet_of(as_user, "principal", f"/exports/{kind}.xlsx")
    assert [c.value for c in ws[1]] == [c.header for c in ledgers.columns(kind)]
    assert ws[1][0].value == "序号" and ws[1][1].value == "个案编号"
    assert ws.freeze_panes == "A2" and ws.title == ledgers.title(kind)
    assert ws.column_dimensions["A"].width == 6 and ws.column_dimensions["C"].width == 22


async def test_suspected_ledger_lists_the_suspected_ledger_statuses_in_scope(
    as_user: AsUser, county: County
) -> None:
    rows = rows_of(await sheet_of(as_user, "principal", "/exports/suspected.xlsx"))
    assert [r["学生姓名"] for r in rows] == [county.students["B"].name]
    b = rows[0]
    assert (
        b["当前状态"] == "缺勤" and b["首次缺勤日期"] == datetime(2026, 10, 8) and b["缺勤天数(自然日)"] == 5
    )
    assert b["承包老师"] == "李老师" and b["包村干部"] == "孙主任" and b["性别"] in ("男", "女")
    everyone = rows_of(await sheet_of(as_user, "county", "/exports/suspected.xlsx"))
    assert [r["学生姓名"] for r in everyone] == [county.students["B"].name, county.students["E"].name]
    assert everyone[1]["分类代码"] == "A3" and everyone[1]["核查截止日期"] == datetime(
        2026, 10, 16
    )  # opened 1 Oct: 15 days from opening


async def test_dropout_ledger_counts_persuasion_attempts(as_user: AsUser, county: County) -> None:
    rows = rows_of(await sheet_of(as_user, "township", "/exports/dropout.xlsx"))
    assert len(rows) == 1
    c = rows[0]
    assert c["学生姓名"] == county.students["C"].name and c["当前状态"] == "已送达劝返通知书"
    assert c["劝返次数"] == 1 and c["最近劝返日期"] == datetime(2026, 10, 3)
    assert c["通知书返校期限"] == datetime(2026, 10, 10) and c["重点群体"] == "家庭经济困难/脱贫户/监测户"


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
    assert rows[1]["承诺返校日期"] == datetime(2026, 10, 8) and rows[2]["送达通知书"] == "是"
    assert ws.cell(row=2, column=9).number_format == "yyyy-mm-dd"  # a real date, shown as a date
    assert ws.cell(row=2, column=19).number_format == "yyyy-mm-dd hh:mm"


async def test_ids_are_masked_unless_the_user_may_export_them(as_user: AsUser, county: County) -> None:
    e = county.students["E"]
    masked = rows_of(await sheet_of(as_user, "county", "/exports/suspected.xlsx"))[1]
    assert masked["身份证号"] == "110101********1234" and masked["学籍号"] == "G110101********1234"
    assert masked["监护人电话"] == "139****5678"
    full = rows_of(await sheet_of(as_user, "admin", "/exports/suspected.xlsx"))[1]
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


async def test_exports_follow_the_case_filters(as_user: AsUser, county: County) -> None:
    client = await as_user("county")
    w = county.world
    reply = await client.get(f"/exports/suspected.csv?school={w.school.id}")
    assert len(list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))) == 1 + 1
    reply = await client.get("/exports/persuasion.csv?key_group=low_income")
    assert len(list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))) == 1 + 1


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
    assert entries[0].detail["rows"] == 1 and entries[0].actor_label == "web:admin"
