"""适龄儿童台账 on the dashboard: the export's summary and list (figures by hand, masking, scope, audit),
its counts and rates on the overview, and the message when no cross-check is saved."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from domain.casework.lifecycle import CaseStatus as S
from domain.policy import Policy
from storage.models import Area
from storage.uow import UnitOfWorkFactory
from tests.fixtures.school_age import child, home_teaching_plan, open_case, save_run
from tests.web.conftest import AsUser
from tests.web.county import County, at

ELSEWHERE_ID = "110101201503010011"


@pytest.fixture
async def saved_run(uow_factory: UnitOfWorkFactory, county: County, policy: Policy) -> int:
    """The county's cross-check over its pupils (cases A, C, B, D and E of the known county) and four
    children on no roll of ours. Expected: 11 school-age children; 在校 4, 辍学 1 (C), 送教上门 1, 外出 1,
    疑似辍学 1 (E), 县内他校 1, 疑似失学 1, 待核实 1 (not placed)."""
    w = county.world
    s, va, vb = w.students, w.village_a.id, w.village_b.id
    async with uow_factory() as uow:
        village2 = await uow.session.scalar(select(Area.id).where(Area.code == "T-V2"))
    abroad = await open_case(
        uow_factory,
        policy,
        s[6].id,
        [S.CLEARED],
        actor_id=w.staff["teacher_b"].id,
        now=at("09-20"),
        code=("verification_2019", "H"),
    )
    assert abroad
    await home_teaching_plan(uow_factory, s[3].id, w.staff["teacher_a"].id)

    def pupil(key: str, bucket: str, student: Any, village: int | None, school: int) -> dict[str, Any]:
        return child(
            key,
            bucket,
            student_id=student.id,
            school_id=school,
            student_number=student.student_number,
            national_id=student.national_id,
            village_id=village,
            name=student.name,
            sex=student.sex,
            birth_date=student.birth_date,
        )

    one = w.school.id
    return await save_run(
        uow_factory,
        w.county.id,
        [
            pupil("CC-01", "present", s[0], va, one),
            pupil("CC-02", "absent", s[1], va, one),
            pupil("CC-03", "present", s[2], va, one),
            pupil("CC-04", "present", s[3], va, one),
            pupil("CC-05", "absent", s[4], vb, one),
            pupil("CC-06", "present", s[5], vb, one),
            pupil("CC-07", "present", s[6], vb, one),
            pupil("CC-08", "absent", county.students["E"], village2, county.school2.id),
            child(
                "CC-09",
                "elsewhere",
                village_id=vb,
                name="赵小四",
                national_id=ELSEWHERE_ID,
                school_label="东乡初级中学",
            ),
            child(
                "CC-10", "out_of_school", village_id=va, name="郑小十", poverty=True, disability="肢体 二级"
            ),
            child("CC-11", "to_resolve", name="吴九"),
            child("CC-12", "out_of_range", village_id=va, name="刘小五"),
        ],
    )


async def workbook(as_user: AsUser, username: str) -> Workbook:
    client = await as_user(username)
    reply = await client.get("/exports/school-age.xlsx")
    assert reply.status_code == 200, reply.text[:300]
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in reply.headers["content-disposition"]
    return load_workbook(io.BytesIO(reply.content))


def rows_of(book: Workbook, title: str) -> list[dict[str, Any]]:
    ws = book[title]
    header = [str(c.value) for c in ws[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]


async def test_the_county_ledger_has_a_summary_and_a_masked_list(
    as_user: AsUser, county: County, saved_run: int
) -> None:
    book = await workbook(as_user, "county")
    assert book.sheetnames == ["汇总", "适龄儿童名单"]
    summary = rows_of(book, "汇总")
    assert [(r["区域"], r["乡镇(街道)"], r["村(居)"], r["适龄儿童数"]) for r in summary] == [
        ("县(区)", "测试县", None, 11),
        ("乡镇", "示范镇", None, 9),
        ("村(居)", "示范镇", "东山村", 5),
        ("村(居)", "示范镇", "西河村", 4),
        ("乡镇", "北岭镇", None, 1),
        ("村(居)", "北岭镇", "北岭村", 1),
        ("未落实到村", None, None, 1),
    ]
    top = summary[0]
    assert (top["在校就读"], top["辍学"], top["送教上门"], top["外出（省外、出国）"]) == (4, 1, 1, 1)
    assert (top["疑似辍学"], top["县内他校就读"], top["疑似失学"], top["待核实"], top["失学"]) == (
        1,
        1,
        1,
        1,
        0,
    )
    # 入学率 (4 + 1 + 1) / (11 − 1 moved away) and 巩固率 (8 ever enrolled − 1 dropped out) / 8, by hand.
    assert (top["应入学人数"], top["在学人数"], top["入学率"]) == (10, 6, "60.00%")
    assert (top["曾在籍人数"], top["巩固率"]) == (8, "87.50%")

    children = rows_of(book, "适龄儿童名单")
    assert len(children) == 11 and "刘小五" not in str(children)  # out of age range
    by_name = {r["姓名"]: r for r in children}
    c = county.students["C"]
    assert by_name[c.name[0] + "*" + c.name[-1]]["当前状态"] == "辍学"
    elsewhere = by_name["赵*四"]
    assert elsewhere["身份证号"] == "110101********0011" and elsewhere["当前状态"] == "县内他校就读"
    assert elsewhere["就读学校"] == "东乡初级中学" and elsewhere["村(居)"] == "西河村"
    poor = by_name["郑*十"]
    assert (poor["脱贫户/监测户"], poor["残疾"], poor["当前状态"]) == ("是", "是", "疑似失学")
    assert by_name["吴*"]["乡镇(街道)"] is None and by_name["吴*"]["村(居)"] == "未落实到村"
    e = county.students["E"]
    assert all(r["学籍号"] != e.student_number for r in children)  # G-prefixed: masked
    assert {r["年龄(周岁)"] for r in children if r["出生日期"]} <= set(range(6, 16))


async def test_an_authorised_export_shows_names_and_numbers(
    as_user: AsUser, county: County, saved_run: int
) -> None:
    children = rows_of(await workbook(as_user, "admin"), "适龄儿童名单")
    by_name = {r["姓名"]: r for r in children}
    assert by_name["赵小四"]["身份证号"] == ELSEWHERE_ID and by_name["郑小十"]["残疾"] == "肢体 二级"
    assert by_name[county.students["E"].name]["学籍号"] == county.students["E"].student_number


async def test_a_township_officer_gets_their_township_only(
    as_user: AsUser, county: County, saved_run: int
) -> None:
    book = await workbook(as_user, "township")
    summary = rows_of(book, "汇总")
    assert [(r["区域"], r["村(居)"], r["适龄儿童数"]) for r in summary] == [
        ("合计", None, 9),
        ("乡镇", None, 9),
        ("村(居)", "东山村", 5),
        ("村(居)", "西河村", 4),
    ]
    assert (summary[0]["入学率"], summary[0]["巩固率"]) == ("75.00%", "85.71%")
    names = {r["姓名"] for r in rows_of(book, "适龄儿童名单")}
    assert len(names) == 9 and "吴*" not in names


async def test_the_csv_is_the_list_and_every_export_is_audited(
    as_user: AsUser, county: County, saved_run: int, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    reply = await client.get("/exports/school-age.csv")
    assert reply.status_code == 200
    lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert lines[0][:4] == ["序号", "乡镇(街道)", "村(居)", "姓名"]
    assert len(lines) == 1 + 7  # the principal's school's pupils, CC-01 to CC-07
    async with uow_factory() as uow:
        entries = [e for e in await uow.audit.entries("export") if e.entity_id == "school_age"]
    assert [(e.entity, e.detail["format"], e.detail["rows"], e.detail["pii"]) for e in entries] == [
        ("ledger", "csv", 7, False)
    ]
    assert entries[0].detail["runs"] == [saved_run] and entries[0].actor_label == "web:principal"


async def test_the_overview_shows_the_ledger_as_of_its_cross_check(
    as_user: AsUser, county: County, saved_run: int
) -> None:
    page = (await (await as_user("county")).get("/dashboard")).text
    assert 'id="enrolment-rate">60.00%' in page and 'id="ledger-retention-rate">87.50%' in page
    assert "截至 测试县 2026-09-05 保存的四查三比对" in page
    assert 'id="school-age-children">11<' in page
    page = (await (await as_user("township")).get("/dashboard")).text
    assert 'id="enrolment-rate">75.00%' in page and 'id="school-age-children">9<' in page


async def test_without_a_saved_cross_check_the_ledger_says_so(as_user: AsUser, county: County) -> None:
    client = await as_user("county")
    reply = await client.get("/exports/school-age.xlsx")
    assert reply.status_code == 404 and "尚未保存四查三比对结果" in reply.text
    assert 'id="export-school-age-xlsx"' in reply.text  # the exports page, with its message
    page = (await client.get("/dashboard")).text
    assert 'id="no-crosscheck"' in page
    assert (await client.get("/exports/school-age.pdf")).status_code == 404
