"""失学 on the dashboard, on SQLite and PostgreSQL: a township officer registers a child found on a
canvass (CSRF, scope, refusals in the viewer's language); the case shows "未入学" and the village instead
of a school; principals neither register nor see such children."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from domain.privacy.identity import id_check_char
from storage.models import AuditEntry, Case
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import County
from tests.web.test_exports import rows_of, sheet_of

SNAKE = re.compile(r"\b(out_of_school|web)\.[a-z_.]+\b")  # a catalog key that leaked untranslated
FIRST17 = "43052120160305123"
NATIONAL_ID = FIRST17 + id_check_char(FIRST17)


def child_form(county: County, csrf: str, **changes: str) -> dict[str, str]:
    fields = {
        "csrf_token": csrf,
        "name": "马小花",
        "sex": "F",
        "birth_date": "2016-03-05",
        "national_id": NATIONAL_ID,
        "village": str(county.world.village_a.id),
        "registered_address": "测试县示范镇东山村三组",
        "current_address": "测试县示范镇东山村五组",
    }
    return fields | changes


async def _cases(uow_factory: UnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count(Case.id))) or 0)


async def test_a_township_officer_registers_a_child_and_the_case_shows_no_school(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("township")
    form = await client.get("/out-of-school/new")
    assert form.status_code == 200 and "东山村" in form.text and "北岭村" not in form.text
    reply = await client.post("/out-of-school", data=child_form(county, csrf_of(form.text)))
    assert reply.status_code == 303, reply.text
    page = await client.get(reply.headers["location"])
    assert page.status_code == 200
    assert "未入学" in page.text and "失学" in page.text and "示范镇" in page.text
    assert "OOS-" not in page.text and not SNAKE.search(page.text)
    listing = await client.get("/cases")
    assert "未入学" in listing.text and "register-out-of-school" in listing.text
    async with uow_factory() as uow:
        case = await uow.session.scalar(select(Case).where(Case.kind == "out_of_school"))
        assert case is not None and case.status == "suspected"
        assert case.responsible_teacher_id == county.staff["township"].id
        events = await uow.cases.events(case.id)
        assert [(e.kind, e.data.get("found_by")) for e in events] == [("opened", "canvass")]
        created = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "create", AuditEntry.entity_id == str(case.id))
        )
        assert created is not None and "马" not in str(created.detail)
    api = await client.get("/api/v1/cases")  # the session cookie does not open the API
    assert api.status_code == 401


async def test_a_bad_id_number_is_refused_in_the_officers_language_and_nothing_is_opened(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    before = await _cases(uow_factory)
    client = await as_user("township")
    form = await client.get("/out-of-school/new")
    bad = child_form(
        county, csrf_of(form.text), national_id=NATIONAL_ID[:17] + ("0" if NATIONAL_ID[17] != "0" else "1")
    )
    reply = await client.post("/out-of-school", data=bad)
    assert reply.status_code == 422 and "身份证号不正确" in reply.text
    assert 'value="马小花"' in reply.text  # what was typed is kept
    too_young = child_form(county, csrf_of(form.text), birth_date="2022-01-01", national_id="")
    reply = await client.post("/out-of-school", data=too_young)
    assert reply.status_code == 422 and "义务教育年龄" in reply.text
    assert await _cases(uow_factory) == before


async def test_csrf_scope_and_roles_are_enforced(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    before = await _cases(uow_factory)
    client = await as_user("township")
    form = await client.get("/out-of-school/new")
    data = child_form(county, csrf_of(form.text))
    assert (await client.post("/out-of-school", data={**data, "csrf_token": "forged"})).status_code == 403
    async with uow_factory() as uow:
        other = next(a for a in await uow.directory.areas() if a.name == "北岭村")
    elsewhere = await client.post("/out-of-school", data={**data, "village": str(other.id)})
    assert elsewhere.status_code == 404  # a village of another township
    principal = await as_user("principal")
    assert (await principal.get("/out-of-school/new")).status_code == 403
    assert await _cases(uow_factory) == before


async def test_a_principal_does_not_see_a_child_on_no_roll_but_the_county_does(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("township")
    form = await client.get("/out-of-school/new")
    reply = await client.post("/out-of-school", data=child_form(county, csrf_of(form.text)))
    url = reply.headers["location"]
    principal = await as_user("principal")
    assert (await principal.get(url)).status_code == 404
    assert "未入学" not in (await principal.get("/cases")).text
    officer = await as_user("county")
    assert (await officer.get(url)).status_code == 200


async def test_the_township_officer_records_the_enrolment_on_the_case_page(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("township")
    form = await client.get("/out-of-school/new")
    url = (await client.post("/out-of-school", data=child_form(county, csrf_of(form.text)))).headers[
        "location"
    ]
    page = await client.get(url)
    assert 'id="enrol"' in page.text and "五年级(1)班" in page.text and "七年级(1)班" not in page.text
    data = {
        "csrf_token": csrf_of(page.text),
        "class": str(county.world.class_a.id),
        "enrolled_on": "2026-10-13",
    }
    future = await client.post(f"{url}/enrolment", data={**data, "enrolled_on": "2026-12-01"})
    assert future.status_code == 422 and "入学日期不能晚于今天" in future.text
    reply = await client.post(f"{url}/enrolment", data=data)
    assert reply.status_code == 303, reply.text
    done = await client.get(reply.headers["location"])
    assert "已登记入学" in done.text and "未入学" not in done.text and 'id="enrol"' not in done.text
    principal = await as_user("principal")  # the child is a pupil of the principal's school now
    assert (await principal.get(url)).status_code == 200


async def test_the_suspected_ledger_lists_the_child_with_its_kind_and_no_school(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("township")
    form = await client.get("/out-of-school/new")
    await client.post("/out-of-school", data=child_form(county, csrf_of(form.text)))
    for user in ("county", "admin"):  # the admin may export ID numbers: still no internal number
        rows = rows_of(await sheet_of(as_user, user, "/exports/suspected.xlsx"))
        [child] = [r for r in rows if r["类型"] == "失学"]
        assert (child["学校"], child["学籍号"], child["家庭所在村(居)"]) == ("—/未入学", "—", "东山村")
        assert {r["类型"] for r in rows} == {"辍学", "失学"}
        assert rows[-1] is child  # after the schools' pupils
