"""地市一学期一调研 and 省级一学年一评估 on the known county placed in a province (tests/web/province.py):
each school's figures against counts taken straight from the database, the sums per area, the sign-off
block, and who may download which area's workbook."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from domain.clock import FixedClock
from domain.policy import Policy
from storage.models import AuditEntry
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import TZ, County
from tests.web.ledger_cases import add_ledger_cases
from tests.web.province import Province, build_province
from tests.web.test_quarterly_review import COLUMNS, _expected

FIGURES = len(COLUMNS)  # the quarterly review's columns, reports due last


@pytest.fixture
async def province(uow_factory: UnitOfWorkFactory, policy: Policy, county: County) -> Province:
    await add_ledger_cases(uow_factory, county, policy)
    return await build_province(uow_factory, policy, county)


def _rows(book: Any, title: str) -> list[tuple[Any, ...]]:
    return list(book[title].iter_rows(values_only=True))


def _sum(rows: list[tuple[Any, ...]]) -> tuple[int, ...]:
    return tuple(sum(column) for column in zip(*rows, strict=True)) if rows else (0,) * FIGURES


def _signed(lines: list[tuple[Any, ...]]) -> dict[Any, Any]:
    blank = lines.index((None,) * len(lines[0]))
    return {line[0]: line[1] for line in lines[blank + 1 : blank + 6]}


async def _audits(uow_factory: UnitOfWorkFactory, action: str, entity: str) -> int:
    async with uow_factory() as uow:
        query = select(func.count()).where(AuditEntry.action == action, AuditEntry.entity == entity)
        return int(await uow.session.scalar(query) or 0)


async def test_the_city_term_workbook_sums_its_schools_per_county_and_township(
    as_user: AsUser, province: Province, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    client = await as_user("city")
    page = await client.get("/exports")
    assert 'id="term-form"' in page.text and 'id="year-form"' in page.text
    reply = await client.get("/exports/term.xlsx?term=2026-09-01")
    assert reply.status_code == 200, reply.text
    book = load_workbook(io.BytesIO(reply.content))
    assert book.sheetnames == ["学期调研汇总", "学校明细", "未确认月报", "失学儿童(按乡镇)"]

    # Each school as counted with SQL over its case events, from the term's start up to now.
    detail = _rows(book, "学校明细")
    assert detail[0][:5] == ("序号", "县区", "乡镇", "学校", COLUMNS[0])
    schools = {line[3]: line for line in detail[1:] if line[0]}
    assert set(schools) == {"示范镇中心小学", "北岭中学", "邻县小学"}  # not 远县小学, in the other city
    for name, line in schools.items():
        expected = await _expected(
            uow_factory, province.schools[name].id, date(2026, 9, 1), date(2027, 2, 22), clock.now()
        )
        assert line[4:-1] == expected[:-1], name
        assert line[-1] == 1  # September's report is due; October's is not yet
    assert sum(schools["示范镇中心小学"][4:11]) > 0  # the comparison means something

    # The sums: a row per township, a subtotal per county, the total; each the sum of its schools.
    summary = _rows(book, "学期调研汇总")
    assert summary[0][:4] == ("序号", "县区", "乡镇", "学校数(所)") and summary[0][4:] == COLUMNS
    figures = {(line[1], line[2]): line[3:] for line in summary[1:] if line[2]}

    def of(*names: str) -> tuple[int, ...]:
        return (len(names), *_sum([schools[n][4:] for n in names]))

    assert figures == {
        ("测试县", "示范镇"): of("示范镇中心小学"),
        ("测试县", "北岭镇"): of("北岭中学"),
        ("测试县", "小计"): of("示范镇中心小学", "北岭中学"),
        ("邻县", "邻县镇"): of("邻县小学"),
        ("邻县", "小计"): of("邻县小学"),
        (None, "合计"): of("示范镇中心小学", "北岭中学", "邻县小学"),
    }
    # New suspected dropouts this term: A, C, F, G, H, J at school 1, E at 北岭中学, K at 邻县小学.
    assert figures[("测试县", "小计")][1] == 7 and figures[("邻县", "小计")][1] == 1

    assert _signed(summary) == {
        "调研单位（盖章）": "测试市",
        "调研学期": "2026-2027 autumn（2026-09-01—2027-02-21）",
        "填报人（签字）": None,
        "审核人（签字）": None,
        "填报日期": datetime.combine(clock.now().astimezone(TZ).date(), time.min),
    }
    missing = _rows(book, "未确认月报")
    assert missing[0] == ("县区", "乡镇", "学校", "月份")
    assert ("邻县", "邻县镇", "邻县小学", "2026-09") in missing and len(missing) == 1 + 3
    text = " ".join(str(c) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for c in r)
    assert not any(s.name in text for s in province.county.students.values())
    assert "郑小邻" not in text
    assert await _audits(uow_factory, "export", "term_review") == 1


async def test_the_province_year_workbook_sums_per_city_and_county(
    as_user: AsUser, province: Province, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("province")
    reply = await client.get("/exports/year.xlsx?year=2026")
    assert reply.status_code == 200, reply.text
    assert "filename*=utf-8''%E7%9C%81%E7%BA%A7" in reply.headers["content-disposition"]  # 省级…
    book = load_workbook(io.BytesIO(reply.content))
    detail = _rows(book, "学校明细")
    assert detail[0][:5] == ("序号", "地市", "县区", "乡镇", "学校")
    schools = {line[4]: line for line in detail[1:] if line[0]}
    assert set(schools) == set(province.schools)
    summary = _rows(book, "学年评估汇总")
    assert summary[0][:4] == ("序号", "地市", "县区", "学校数(所)")
    figures = {(line[1], line[2]): line[3:] for line in summary[1:] if line[2]}

    def of(*names: str) -> tuple[int, ...]:
        return (len(names), *_sum([schools[n][5:] for n in names]))

    assert figures == {
        ("测试市", "测试县"): of("示范镇中心小学", "北岭中学"),
        ("测试市", "邻县"): of("邻县小学"),
        ("测试市", "小计"): of("示范镇中心小学", "北岭中学", "邻县小学"),
        ("另一市", "远县"): of("远县小学"),
        ("另一市", "小计"): of("远县小学"),
        (None, "合计"): of(*province.schools),
    }
    assert figures[("另一市", "小计")][1] == 1
    signed = _signed(summary)
    assert (
        signed["评估单位（盖章）"] == "测试省" and signed["评估学年"] == "2026-2027（2026-09-01—2027-08-31）"
    )
    assert await _audits(uow_factory, "export", "year_review") == 1


async def test_a_county_officer_gets_its_county_but_not_the_province(
    as_user: AsUser, province: Province, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("county")
    assert 'id="year-form"' in (await client.get("/exports")).text
    own = await client.get("/exports/year.xlsx?year=2026")
    assert own.status_code == 200
    detail = _rows(load_workbook(io.BytesIO(own.content)), "学校明细")
    assert {line[4] for line in detail[1:] if line[0]} == {"示范镇中心小学", "北岭中学"}
    refused = await client.get(f"/exports/year.xlsx?year=2026&area={province.province.id}")
    assert refused.status_code == 403
    assert await _audits(uow_factory, "denied", "year_review") == 1


async def test_a_city_officer_may_not_ask_for_a_county_of_another_city(
    as_user: AsUser, province: Province, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("city")
    assert (await client.get(f"/exports/term.xlsx?term=2026-09-01&area={province.far.id}")).status_code == 403
    inside = await client.get(f"/exports/term.xlsx?term=2026-09-01&area={province.neighbour.id}")
    assert inside.status_code == 200
    detail = _rows(load_workbook(io.BytesIO(inside.content)), "学校明细")
    assert [line[3] for line in detail[1:] if line[0]] == ["邻县小学"]
    assert await _audits(uow_factory, "denied", "term_review") == 1


@pytest.mark.parametrize("user", ["principal", "township"])
async def test_schools_and_townships_do_not_download_term_or_year_reviews(
    as_user: AsUser, province: Province, uow_factory: UnitOfWorkFactory, user: str
) -> None:
    client = await as_user(user)
    page = (await client.get("/exports")).text
    assert "term-form" not in page and "year-form" not in page
    assert (await client.get("/exports/term.xlsx?term=2026-09-01")).status_code == 403
    assert (await client.get("/exports/year.xlsx?year=2026")).status_code == 403
    assert await _audits(uow_factory, "denied", "term_review") == 1


@pytest.mark.parametrize(
    "query",
    [
        "term.xlsx?term=2030-01-01",
        "term.xlsx?term=x",
        "year.xlsx?year=26x",
        "year.xlsx?year=1999",
        "year.xlsx?area=x",
    ],
)
async def test_a_bad_term_year_or_area_is_refused(as_user: AsUser, province: Province, query: str) -> None:
    client = await as_user("city")
    assert (await client.get(f"/exports/{query}")).status_code == 400


async def test_the_city_officer_reads_cases_but_acts_on_none(
    as_user: AsUser, province: Province, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("city")
    assert (await client.get("/dashboard")).status_code == 200
    cases = (await client.get("/cases")).text
    assert "邻县小学" in cases and "远县小学" not in cases  # its counties, not the other city's
    page = await client.get(f"/cases/{province.county.cases['C']}")
    assert page.status_code == 200
    assert 'name="decision"' not in page.text and 'id="flags"' not in page.text
    assert "/acknowledge" not in (await client.get("/todo")).text
    # The county officer, who does casework, still has them.
    county = await as_user("county")
    assert 'id="flags"' in (await county.get(f"/cases/{province.county.cases['C']}")).text
