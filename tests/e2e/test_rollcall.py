"""/rollcall end to end: a class teacher ticks who has not arrived; suspected cases open with the 15-day rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from telegram.ext import Application

from app.container import Services
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from domain.privacy.identity import mask_name
from storage.models import Student, TeachingAssignment
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.factories import World

TERM_START = date(2026, 9, 1)  # the shipped policy's autumn term


@pytest.fixture(autouse=True)
def second_day_of_term(clock: FixedClock) -> None:
    clock.set(datetime(2026, 9, 2, 1, 0, tzinfo=UTC))  # 09:00 in Beijing


def pupil_button(message: dict, pupil: Student) -> str:  # type: ignore[type-arg]
    return next(b for b in buttons(message) if pupil.student_number[-4:] in b)


def checklist(m: dict) -> bool:  # type: ignore[type-arg]
    return "完成" in buttons(m) and "未到校" in m["text"]


async def test_teacher_ticks_absent_pupils_and_suspected_cases_open(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a")
    first, second = [s for s in world.students if s.class_id == world.class_a.id][:2]
    await phone.send("/rollcall")
    ask = await phone.wait_for_reply(checklist)  # one class: straight to the checklist
    assert "0/4" in ask["text"] and first.name not in ask["text"] + " ".join(buttons(ask))
    await phone.tap(pupil_button(ask, first))
    ticked = await phone.wait_for_reply(lambda m: "1/4" in m["text"])
    assert ticked["message_id"] == ask["message_id"]  # edited in place
    assert pupil_button(ticked, first).startswith("❌ " + mask_name(first.name))
    await phone.tap(pupil_button(ticked, second))
    ticked = await phone.wait_for_reply(lambda m: "2/4" in m["text"])
    await phone.tap(pupil_button(ticked, second))  # tapped by mistake: untick
    await phone.wait_for_reply(lambda m: "1/4" in m["text"])
    await phone.tap("完成")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert world.class_a.name in summary["text"] and first.student_number[-4:] in summary["text"]
    assert second.student_number[-4:] not in summary["text"]
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "新建疑似辍学个案 1 个" in m["text"])
    assert (TERM_START + timedelta(days=15)).isoformat() in done["text"]
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(first.id)
        assert case is not None and case.status == CaseStatus.SUSPECTED
        assert case.first_absent_on == TERM_START
        assert await uow.cases.open_for_student(second.id) is None


async def test_whole_class_present_needs_one_tap_and_submit(
    polling_bot: Application, bound: BindFactory, services: Services
) -> None:
    phone = await bound("teacher_b")
    await phone.send("/rollcall")
    await phone.wait_for_reply(checklist)
    await phone.tap("完成")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "无" in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "全班到齐" in m["text"])
    async with services.uow() as uow:
        assert await uow.cases.count_by_status() == {}


async def test_large_class_is_paginated(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    async with services.uow() as uow:
        extra = [
            Student(
                student_number=f"L2027{9000 + n:08d}",
                name=f"孙大{n}",
                sex="F",
                birth_date=date(2015, 3, 1),
                school_id=world.school.id,
                class_id=world.class_a.id,
            )
            for n in range(10)
        ]
        uow.session.add_all(extra)
        await uow.commit()
    phone = await bound("teacher_a")
    await phone.send("/rollcall")
    ask = await phone.wait_for_reply(checklist)
    assert "1/2" in buttons(ask) and "0/14" in ask["text"]
    await phone.tap("▶")
    page2 = await phone.wait_for_reply(lambda m: "2/2" in buttons(m))
    last = next(s for s in extra if any(s.student_number[-4:] in b for b in buttons(page2)))
    await phone.tap(pupil_button(page2, last))
    await phone.wait_for_reply(lambda m: "1/14" in m["text"] and "2/2" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "新建疑似辍学个案 1 个" in m["text"])
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(last.id) is not None


async def test_teacher_of_two_classes_chooses_the_class_first(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    async with services.uow() as uow:
        uow.session.add(
            TeachingAssignment(
                staff_id=world.staff["teacher_a"].id, class_id=world.class_b.id, is_class_teacher=True
            )
        )
        await uow.commit()
    phone = await bound("teacher_a")
    await phone.send("/rollcall")
    await phone.wait_for_reply(lambda m: world.class_b.name in buttons(m))
    await phone.send_sticker()
    await phone.wait_for_reply(lambda m: "按钮" in m["text"])
    await phone.tap(world.class_b.name)
    ask = await phone.wait_for_reply(checklist)
    pupil = world.student_in(world.class_b)
    await phone.tap(pupil_button(ask, pupil))
    await phone.wait_for_reply(lambda m: "1/4" in m["text"])
    await phone.send_sticker()
    await phone.wait_for_reply(lambda m: "按钮" in m["text"])
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    async with services.uow() as uow:
        assert await uow.cases.count_by_status() == {}
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


@pytest.mark.parametrize(
    ("who", "refusal"), [("subject", "不适用于您的角色"), ("cadre_a", "不适用于您的角色")]
)
async def test_roll_call_is_only_for_class_teachers(
    polling_bot: Application, bound: BindFactory, who: str, refusal: str
) -> None:
    phone = await bound(who)
    await phone.send("/rollcall")
    await phone.wait_for_reply(lambda m: refusal in m["text"])


async def test_forged_pupil_of_another_class_is_refused_and_logged(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/rollcall")
    ask = await phone.wait_for_reply(checklist)
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    await phone.press_callback(ask["message_id"], f"f:{seq}:{world.student_in(world.class_b).id}")
    await phone.wait_for_reply(lambda m: "不可用" in m["text"])
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and not draft.answers.get("absent")
        denied = await uow.audit.entries("denied")
        assert [(e.entity, e.entity_id) for e in denied] == [
            ("student", str(world.student_in(world.class_b).id))
        ]


async def test_class_teacher_without_a_class_is_told_so(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    async with services.uow() as uow:
        for assignment in await uow.directory.assignments(world.staff["teacher_b"].id):
            assignment.is_class_teacher = False
        await uow.commit()
    phone = await bound("teacher_b")
    await phone.send("/rollcall")
    await phone.wait_for_reply(lambda m: "不是任何班级的班主任" in m["text"])


async def test_roll_call_outside_the_term_start_window_is_refused_with_the_next_window(
    polling_bot: Application, bound: BindFactory, services: Services, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))  # mid-term: the window (09-01 to 09-03) is over
    phone = await bound("teacher_a")
    await phone.send("/rollcall")
    refusal = await phone.wait_for_reply(lambda m: "不在点名期间" in m["text"])
    assert "前 3 个上学日" in refusal["text"] and "2027-02-22 至 2027-02-24" in refusal["text"]
    assert buttons(refusal) == []
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None
        assert await uow.audit.entries("roll_call") == []


async def test_a_roll_call_submitted_after_the_last_roll_call_day_records_nothing(
    polling_bot: Application, bound: BindFactory, world: World, services: Services, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 9, 3, 14, 0, tzinfo=UTC))  # 22:00 on the third and last roll-call day
    phone = await bound("teacher_a")
    pupil = world.student_in(world.class_a)
    await phone.send("/rollcall")
    ask = await phone.wait_for_reply(checklist)
    await phone.tap(pupil_button(ask, pupil))
    await phone.wait_for_reply(lambda m: "1/4" in m["text"])
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    clock.set(datetime(2026, 9, 4, 1, 0, tzinfo=UTC))  # submitted the next morning
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "不在点名期间" in m["text"] and "2027-02-22" in m["text"])
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(pupil.id) is None
        assert await uow.audit.entries("roll_call") == []


async def test_the_confirmation_quotes_the_policy_verification_window(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    services.policy = dataclasses.replace(services.policy, verification_window=timedelta(days=10))
    phone = await bound("teacher_a")
    await phone.send("/rollcall")
    ask = await phone.wait_for_reply(checklist)
    await phone.tap(pupil_button(ask, world.student_in(world.class_a)))
    await phone.wait_for_reply(lambda m: "1/4" in m["text"])
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "新建疑似辍学个案 1 个" in m["text"])
    assert "开学后10天内" in done["text"] and "15天" not in done["text"]
    assert (TERM_START + timedelta(days=10)).isoformat() in done["text"]
