"""Dashboard pages: overview numbers, scoped case list and filters, case file, photos, staff."""

from __future__ import annotations

import re

import httpx
import pytest

from domain.clock import FixedClock
from domain.people.scope import scope_for
from domain.reports.stats import OVERDUE_RULES
from storage.reporting import CaseFilter, ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import County


def case_numbers(html: str) -> set[str]:
    return set(re.findall(r'href="/cases/\d+">(\d{4}-\d{6})</a>', html))


async def numbers_of(uow_factory: UnitOfWorkFactory, county: County, *keys: str) -> set[str]:
    async with uow_factory() as uow:
        return {(await uow.cases.get(county.cases[k])).number for k in keys}  # type: ignore[union-attr]


async def test_overview_shows_counts_overdue_chart_and_retention(as_user: AsUser, county: County) -> None:
    client = await as_user("principal")
    page = (await client.get("/dashboard")).text
    assert "<svg" in page and page.count("<rect") == 24  # 12 weeks × opened/returned
    assert "87.50%" in page  # (8 enrolled − 1 dropout) / 8
    overdue = page[page.index('id="overdue-by-school"') :]
    assert "示范镇中心小学" in overdue and "北岭中学" not in overdue
    assert 'href="/cases?status=retention"' in page and 'href="/cases?status=closed"' in page


async def test_county_officer_sees_both_townships(as_user: AsUser, county: County) -> None:
    client = await as_user("county")
    page = (await client.get("/dashboard")).text
    assert "示范镇中心小学" in page and "北岭中学" in page


async def test_case_list_is_scoped(as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory) -> None:
    client = await as_user("principal")
    assert case_numbers((await client.get("/cases")).text) == await numbers_of(uow_factory, county, *"ABCD")
    client = await as_user("other_principal")
    assert case_numbers((await client.get("/cases")).text) == await numbers_of(uow_factory, county, "E")
    client = await as_user("admin")
    assert case_numbers((await client.get("/cases")).text) == await numbers_of(uow_factory, county, *"ABCDE")


async def test_case_list_filters(as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory) -> None:
    client = await as_user("township")
    w = county.world

    async def listed(query: str) -> set[str]:
        reply = await client.get(f"/cases?{query}")
        assert reply.status_code == 200
        return case_numbers(reply.text)

    assert await listed("status=retention") == await numbers_of(uow_factory, county, "A")
    assert await listed("status=absent&status=closed") == await numbers_of(uow_factory, county, "B", "D")
    assert await listed("category=record_system:A2") == await numbers_of(uow_factory, county, "A")
    assert await listed(f"village={w.village_b.id}") == await numbers_of(uow_factory, county, "B", "D")
    assert await listed("key_group=low_income") == await numbers_of(uow_factory, county, "C")
    assert await listed("overdue=1") == await numbers_of(uow_factory, county, "B", "C")
    assert await listed(f"school={w.school.id}&overdue=1&status=absent") == await numbers_of(
        uow_factory, county, "B"
    )
    assert await listed("status=bogus&school=abc") == await numbers_of(uow_factory, county, *"ABCD")


async def test_filtering_by_a_school_outside_ones_area_answers_404(as_user: AsUser, county: County) -> None:
    client = await as_user("principal")
    assert (await client.get(f"/cases?school={county.school2.id}")).status_code == 404
    assert (await client.get(f"/cases?village={county.world.village_a.id}")).status_code == 200


async def test_case_list_pages(as_user: AsUser, county: County, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import pages

    monkeypatch.setattr(pages, "PER_PAGE", 3)
    client = await as_user("principal")
    first, second = (await client.get("/cases")).text, (await client.get("/cases?page=2")).text
    assert len(case_numbers(first)) == 3 and len(case_numbers(second)) == 1
    assert 'rel="next"' in first and 'rel="prev"' in second


async def test_case_file_shows_timeline_photos_and_reminders(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    page = (await client.get(f"/cases/{county.cases['A']}")).text
    pupil = county.students["A"]
    assert pupil.name in page and pupil.student_number not in page
    timeline = page[page.index('id="timeline"') :]
    assert "王老师" in timeline and "刘主任" in timeline  # who did it, and who came along
    assert "拒绝返校" in timeline and "家长外出务工" in timeline and "25.0" not in timeline
    assert f"/cases/{county.cases['A']}/photos/{county.attachment_id}/thumb" in page
    reminders = (await client.get(f"/cases/{county.cases['B']}")).text
    sent = reminders[reminders.index('id="reminders"') :]
    assert "李老师" in sent and "已发送" in sent and "2026-10-12 09:00" in sent
    async with uow_factory() as uow:
        views = [e for e in await uow.audit.entries("view") if e.entity == "case"]
    assert {e.entity_id for e in views} == {str(county.cases["A"]), str(county.cases["B"])}


async def test_cases_photos_and_pages_outside_ones_area_answer_404(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    e = county.cases["E"]
    assert (await client.get(f"/cases/{e}")).status_code == 404
    assert (await client.get("/cases/999999")).status_code == 404
    assert (await client.get("/cases/99999999999")).status_code == 404  # beyond any id: no database error
    assert (await client.get(f"/cases/{e}/photos/99999999999/thumb")).status_code == 404
    client = await as_user("other_principal")
    a = county.cases["A"]
    assert (await client.get(f"/cases/{a}")).status_code == 404
    for variant in ("thumb", "evidence"):
        assert (await client.get(f"/cases/{a}/photos/{county.attachment_id}/{variant}")).status_code == 404
    # The photo of case A asked for through a case the person may see is refused too.
    assert (await client.get(f"/cases/{e}/photos/{county.attachment_id}/evidence")).status_code == 404
    async with uow_factory() as uow:
        denied = {(x.entity, x.entity_id) for x in await uow.audit.entries("denied")}
    assert ("case", str(a)) in denied and ("attachment", str(county.attachment_id)) in denied


async def test_photos_are_served_to_an_authorised_session(
    as_user: AsUser, county: County, client: httpx.AsyncClient, uow_factory: UnitOfWorkFactory
) -> None:
    url = f"/cases/{county.cases['A']}/photos/{county.attachment_id}"
    assert (await client.get(f"{url}/evidence")).status_code == 303  # not logged in
    await as_user("township")
    evidence = await client.get(f"{url}/evidence")
    assert evidence.status_code == 200 and evidence.content == county.evidence
    assert (
        evidence.headers["content-type"] == "image/jpeg" and "no-store" in evidence.headers["cache-control"]
    )
    thumb = await client.get(f"{url}/thumb")
    assert (
        thumb.status_code == 200
        and thumb.content[:2] == b"\xff\xd8"
        and len(thumb.content) < len(evidence.content)
    )
    assert (await client.get(f"{url}/original")).status_code in (404, 422)
    async with uow_factory() as uow:
        views = [x for x in await uow.audit.entries("view") if x.entity == "attachment"]
    assert len(views) == 1  # the evidence copy; thumbnails ride on the audited case view


async def test_staff_page_shows_binding_activity_and_overdue_per_person(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("principal")
    page = (await client.get("/staff")).text
    rows = {
        m.group(1): m.group(0) for m in re.finditer(r"<tr[^>]*>\s*<td>([^<]+)</td>.*?</tr>", page, re.DOTALL)
    }
    assert "已绑定Telegram" in rows["王老师"] and "未绑定" in rows["李老师"]
    assert re.search(r'class="num warn">1<', rows["王老师"]) and re.search(
        r'class="num warn">1<', rows["李老师"]
    )
    assert "孙校长" not in rows  # the other school's principal is outside the area


async def test_the_case_count_agrees_with_the_rows_for_every_filter(
    county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    """The count joins only what the filter needs; it must never differ from the rows listed."""
    w = county.world
    filters = [
        CaseFilter(),
        CaseFilter(statuses=frozenset({"absent", "closed"})),
        CaseFilter(overdue=True),
        CaseFilter(category=("record_system", "A2")),
        CaseFilter(school_id=w.school.id),
        CaseFilter(village_id=w.village_b.id),
        CaseFilter(key_group="low_income"),
    ]
    async with uow_factory() as uow:
        for who in ("principal", "township", "admin", "other_principal", "teacher_a"):
            scope = await scope_for(uow, county.staff[who])
            for flt in filters:
                total, rows = await ReportingRepository(uow.session).case_page(
                    scope, flt, clock.now(), OVERDUE_RULES, limit=100, offset=0
                )
                assert total == len(rows), (who, flt)
        everyone = Scope(staff_id=None, everything=True)
        assert (
            await ReportingRepository(uow.session).case_page(
                everyone, CaseFilter(), clock.now(), OVERDUE_RULES, limit=2, offset=0
            )
        )[0] == 5
