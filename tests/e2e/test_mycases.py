"""/mycases end to end: open cases most urgent first, paginated, with buttons that start the next form."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from telegram.ext import Application

from app.container import Services
from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.people.scope import scope_for
from storage.models import Case, Student
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.factories import World


async def open_case(services: Services, world: World, pupil: Student, reported_at: datetime) -> Case:
    """A case reported by the class teacher at `reported_at` (its first visit is due three days later)."""
    async with services.uow() as uow:
        staff = world.staff["teacher_a"] if pupil.class_id == world.class_a.id else world.staff["teacher_b"]
        day = reported_at.astimezone(services.tz).date()
        case, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            AbsenceReport(pupil.id, day),
            now=reported_at,
            policy=services.policy,
            tz=services.tz,
        )
        await uow.commit()
    return case


def callback_data(message: dict) -> list[str]:  # type: ignore[type-arg]
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b["callback_data"] for row in rows for b in row]


async def test_open_cases_are_listed_most_urgent_first(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    now = services.clock.now()
    first, second = [s for s in world.students if s.class_id == world.class_a.id][:2]
    recent = await open_case(services, world, first, now)
    overdue = await open_case(services, world, second, now - timedelta(days=5))
    await open_case(services, world, world.student_in(world.class_b), now)  # another class: not listed
    phone = await bound("teacher_a")
    await phone.send("/mycases")
    listing = await phone.wait_for_reply(lambda m: "在办个案" in m["text"])
    text = listing["text"]
    assert "共 2 个" in text
    assert text.index(overdue.number) < text.index(recent.number)
    assert "⚠️" in text.split(recent.number)[0] and "⚠️" not in text.split(recent.number)[1]
    assert (now + timedelta(days=3)).astimezone(services.tz).date().isoformat() in text
    for pupil in (first, second):  # masked; no full names, guardian phones or student numbers
        assert pupil.name not in text and pupil.student_number not in text
        assert pupil.guardian_phone not in text  # type: ignore[operator]
    assert buttons(listing)[:2] == ["1. 记录家访", "1. 确认返校"]
    data = callback_data(listing)
    assert data[:4] == [
        f"go:visit:{overdue.id}",
        f"go:return:{overdue.id}",
        f"go:visit:{recent.id}",
        f"go:return:{recent.id}",
    ]


async def test_return_button_starts_the_return_form_for_that_case(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    case = await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    phone = await bound("cadre_a")  # the cadre of the pupil's home village
    await phone.send("/mycases")
    await phone.wait_for_reply(lambda m: case.number in m["text"])
    await phone.tap("1. 确认返校")
    await phone.wait_for_reply(lambda m: "今天" in buttons(m) and "哪天" in m["text"])
    await phone.tap("今天")
    await phone.wait_for_reply(lambda m: "学校确认已到校" in buttons(m))
    await phone.tap("学校确认已到校")
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("是，原学校原班级")
    await phone.wait_for_reply(lambda m: "已恢复" in buttons(m))
    await phone.tap("已恢复")
    await phone.wait_for_reply(lambda m: "保学措施" in m["text"])
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "照片" in m["text"])
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert case.number in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    async with services.uow() as uow:
        stored = await uow.cases.get(case.id)
        assert stored is not None and stored.status == CaseStatus.RETENTION
    await phone.send("/mycases")
    listing = await phone.wait_for_reply(lambda m: "保学跟踪回访" in m["text"])
    # Back on 10-13: the first check falls on 10-27 and is overdue if not answered by 10-30.
    assert "2026-10-30" in listing["text"]
    assert buttons(listing) == []  # nothing to visit or confirm any more


async def test_visit_button_starts_the_visit_form_for_that_case(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    case = await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    phone = await bound("teacher_a")
    await phone.send("/mycases")
    await phone.wait_for_reply(lambda m: case.number in m["text"])
    await phone.tap("1. 记录家访")
    await phone.wait_for_reply(lambda m: "今天" in buttons(m) and "家访" in m["text"])
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and (draft.form, draft.answers.get("case")) == ("visit", str(case.id))


async def test_long_list_is_paginated_in_place(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    async with services.uow() as uow:
        extra = [
            Student(
                student_number=f"L2028{8000 + n:08d}",
                name=f"钱多{n}",
                sex="M",
                birth_date=date(2015, 5, 1),
                school_id=world.school.id,
                class_id=world.class_a.id,
            )
            for n in range(6)
        ]
        uow.session.add_all(extra)
        await uow.commit()
    now = services.clock.now()
    pupils = [s for s in world.students if s.class_id == world.class_a.id] + extra
    cases = [await open_case(services, world, p, now - timedelta(hours=n)) for n, p in enumerate(pupils)]
    phone = await bound("teacher_a")
    await phone.send("/mycases")
    first = await phone.wait_for_reply(lambda m: "共 10 个" in m["text"])
    assert "1/2" in buttons(first) and cases[0].number not in first["text"]  # the newest is least urgent
    await phone.tap("▶")
    second = await phone.wait_for_reply(lambda m: "2/2" in buttons(m))
    assert second["message_id"] == first["message_id"]
    assert cases[0].number in second["text"] and "9. 确认返校" in buttons(second)
    await phone.tap("◀")
    await phone.wait_for_reply(lambda m: "1/2" in buttons(m))


async def test_other_villages_and_classes_see_nothing(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    phone = await bound("cadre_b")
    await phone.send("/mycases")
    await phone.wait_for_reply(lambda m: "没有在办个案" in m["text"])
    async with services.uow() as uow:
        assert [e.entity for e in await uow.audit.entries("view")] == []
