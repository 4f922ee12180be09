"""送教上门 on the dashboard, on SQLite and PostgreSQL: a principal makes and edits a pupil's plan (CSRF,
scope, validation messages in the viewer's language), the list shows held vs planned, and the plan's
reminders are planned at once."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from domain.audit import Actor
from domain.clock import FixedClock
from domain.home_teaching.plans import SessionInput, log_session
from domain.people.scope import scope_for
from storage.models import AuditEntry, HomeTeachingPlan, Reminder
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import County

SNAKE = re.compile(r"\b(home_teaching|web)\.[a-z_.]+\b")  # a catalog key that leaked untranslated


def plan_form(county: County, csrf: str, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "csrf_token": csrf,
        "teacher": [str(county.staff["teacher_a"].id)],
        "cadence": "month",
        "sessions_per_period": "2",
        "minutes_per_session": "90",
        "content_areas": "生活自理、康复训练",
        "starts_on": "2026-10-01",
        "review_on": "2027-01-15",
        "ends_on": "",
        "assessment_ref": "县残评〔2026〕7号",
        "active": "on",
    }
    fields.update(changes)
    return fields


async def test_a_principal_makes_then_edits_a_plan_and_sees_it_listed(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    pupil = county.students["A"]
    page = await client.get("/home-teaching/new", params={"student_number": pupil.student_number})
    assert page.status_code == 200 and county.staff["teacher_a"].name in page.text
    assert pupil.name not in page.text  # masked, as everywhere on the dashboard
    reply = await client.post(
        f"/home-teaching/students/{pupil.id}", data=plan_form(county, csrf_of(page.text))
    )
    assert reply.status_code == 303, reply.text
    listing = await client.get(reply.headers["location"])
    assert "送教计划已保存" in listing.text and "每月 2 次 × 90 分钟" in listing.text
    assert county.staff["teacher_a"].name in listing.text and not SNAKE.search(listing.text)
    async with uow_factory() as uow:
        plan = await uow.session.scalar(select(HomeTeachingPlan))
        assert plan is not None and plan.student_id == pupil.id and plan.sessions_per_period == 2
        reminders = (await uow.session.scalars(select(Reminder))).all()
        assert any(r.kind == "home_teaching_due" and "ht" in r.dedupe_key for r in reminders)
    # Opening "new" for the same pupil leads to the plan; editing keeps one plan per child.
    again = await client.get("/home-teaching/new", params={"student_number": pupil.student_number})
    assert again.status_code == 303 and again.headers["location"] == f"/home-teaching/{plan.id}"
    page = await client.get(f"/home-teaching/{plan.id}")
    form = plan_form(county, csrf_of(page.text), cadence="week", sessions_per_period="1")
    assert (await client.post(f"/home-teaching/students/{pupil.id}", data=form)).status_code == 303
    async with uow_factory() as uow:
        plans = (await uow.session.scalars(select(HomeTeachingPlan))).all()
        assert [(p.cadence, p.sessions_per_period) for p in plans] == [("week", 1)]
        actions = (
            await uow.session.scalars(
                select(AuditEntry.action).where(AuditEntry.entity == "home_teaching_plan")
            )
        ).all()
        assert "create" in actions and "update" in actions


async def test_bad_values_are_explained_and_change_nothing(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    pupil = county.students["A"]
    page = await client.get("/home-teaching/new", params={"student_number": pupil.student_number})
    csrf = csrf_of(page.text)
    cases: list[tuple[dict[str, object], str]] = [
        ({"review_on": "2026-09-01"}, "复核日期必须晚于开始日期"),
        ({"sessions_per_period": "0"}, "每期次数应为 1 至 10 次"),
        ({"starts_on": "十月一日"}, "请检查填写的内容"),
        ({"teacher": []}, "请选择 1 至 5 名本校在职教师"),
        ({"teacher": [str(county.staff["other_principal"].id)]}, "请选择 1 至 5 名本校在职教师"),
        ({"cadence": "daily"}, "频次只能是每周或每月"),
        ({"assessment_ref": "联系 13912345678"}, "手机号"),
        ({"minutes_per_session": "abc"}, "请检查填写的内容"),
    ]
    for change, text in cases:
        reply = await client.post(
            f"/home-teaching/students/{pupil.id}", data=plan_form(county, csrf, **change)
        )
        assert reply.status_code == 422 and text in reply.text, (change, reply.status_code)
    no_csrf = plan_form(county, "forged")
    assert (await client.post(f"/home-teaching/students/{pupil.id}", data=no_csrf)).status_code == 403
    async with uow_factory() as uow:
        assert (await uow.session.scalars(select(HomeTeachingPlan))).all() == []


async def test_a_pupil_or_plan_outside_the_area_is_not_found(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    page = await client.get(
        "/home-teaching/new", params={"student_number": county.students["A"].student_number}
    )
    await client.post(
        f"/home-teaching/students/{county.students['A'].id}", data=plan_form(county, csrf_of(page.text))
    )
    other = await as_user("other_principal")
    listing = await other.get("/home-teaching")
    assert county.staff["teacher_a"].name not in listing.text
    async with uow_factory() as uow:
        plan = await uow.session.scalar(select(HomeTeachingPlan))
    assert plan is not None
    assert (await other.get(f"/home-teaching/{plan.id}")).status_code == 404
    missing = await other.get(
        "/home-teaching/new", params={"student_number": county.students["A"].student_number}
    )
    assert missing.status_code == 303 and "missing=1" in missing.headers["location"]
    form = plan_form(county, csrf_of(listing.text))
    assert (
        await other.post(f"/home-teaching/students/{county.students['A'].id}", data=form)
    ).status_code == 404


async def _plan_with_sessions(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> HomeTeachingPlan:
    """Twice a month from 1 September; one session in September, two in October (by teacher A)."""
    pupil = county.students["A"]
    page = await client.get("/home-teaching/new", params={"student_number": pupil.student_number})
    form = plan_form(county, csrf_of(page.text), starts_on="2026-09-01")
    assert (await client.post(f"/home-teaching/students/{pupil.id}", data=form)).status_code == 303
    async with uow_factory() as uow:
        plan = await uow.session.scalar(select(HomeTeachingPlan))
        teacher = await uow.directory.staff(county.staff["teacher_a"].id)
        assert plan is not None and teacher is not None
        scope = await scope_for(uow, teacher)
        for day in ("2026-09-10", "2026-10-05", "2026-10-09"):
            data = SessionInput(plan.id, date.fromisoformat(day), 90, "康复训练", "good")
            await log_session(
                uow,
                teacher,
                scope,
                Actor(teacher.id, "test"),
                data,
                now=clock.now(),
                today=date(2026, 10, 13),
            )
        await uow.commit()
    return plan


async def test_the_ledger_shows_held_vs_planned_masked_and_audited(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    client = await as_user("principal")
    await _plan_with_sessions(client, county, uow_factory, clock)
    reply = await client.get("/home-teaching/ledger.csv")
    assert reply.status_code == 200 and "attachment" in reply.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    row = dict(zip(table[0], table[1], strict=True))
    pupil = county.students["A"]
    # September ended (2 planned, 1 held); October is still running on the 13th: 3 held in all.
    assert (row["应送教次数"], row["实送教次数"], row["本期已送教"], row["最近一次送教"]) == (
        "2",
        "3",
        "2",
        "2026-10-09",
    )
    assert row["学籍号"] != pupil.student_number and row["送教教师"] == county.staff["teacher_a"].name
    listing = await client.get("/home-teaching")
    assert "2026-10-09" in listing.text
    xlsx = await client.get("/home-teaching/ledger.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.title == "送教上门台账"
    assert (await client.get("/home-teaching/ledger.pdf")).status_code == 404
    async with uow_factory() as uow:
        exports = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))).all()
    assert [(e.entity_id, e.detail["format"]) for e in exports] == [
        ("home_teaching", "csv"),
        ("home_teaching", "xlsx"),
    ]


async def test_the_monthly_report_has_a_home_teaching_section(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    client = await as_user("principal")
    await _plan_with_sessions(client, county, uow_factory, clock)
    reply = await client.get(f"/exports/monthly.xlsx?school={county.world.school.id}&month=2026-09")
    assert reply.status_code == 200
    book = load_workbook(io.BytesIO(reply.content))
    sheet = book["送教上门台账"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert (row["应送教次数"], row["实送教次数"], row["送教时长（分钟）"]) == (2, 1, 90)
