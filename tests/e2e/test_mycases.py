"""/mycases end to end, on Telegram and WeCom: open cases most urgent first, paginated, with buttons that
start the next form."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from app.container import Services
from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.people.scope import scope_for
from storage.models import Case, Student
from tests.accounts import draft_key
from tests.e2e.conftest import PersonFactory
from tests.e2e.people import Person, TelegramPerson, WeComPerson
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


def keys_behind(someone: Person, listing: str) -> list[str]:
    """The keys of the buttons shown with the listing that contains `listing`: Telegram's callback data,
    WeCom's card button keys (the same strings, decoded by the same code)."""
    if isinstance(someone, TelegramPerson):
        message = next(m for m in reversed(someone.phone.messages) if listing in m.get("text", ""))
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [b["callback_data"] for row in rows for b in row]
    assert isinstance(someone, WeComPerson)
    cards = [s.body["template_card"] for s in someone.chat.since if s.msgtype == "template_card"]
    return [str(b["key"]) for card in cards for b in card["button_list"]]


async def test_open_cases_are_listed_most_urgent_first(
    person: PersonFactory, world: World, services: Services
) -> None:
    now = services.clock.now()
    first, second = [s for s in world.students if s.class_id == world.class_a.id][:2]
    recent = await open_case(services, world, first, now)
    overdue = await open_case(services, world, second, now - timedelta(days=5))
    await open_case(services, world, world.student_in(world.class_b), now)  # another class: not listed
    teacher = await person("teacher_a")
    await teacher.send("/mycases")
    listing = await teacher.expect(lambda s: "在办个案" in s.text and len(s.buttons) >= 4)
    text = listing.text
    assert "共 2 个" in text
    assert text.index(overdue.number) < text.index(recent.number)
    assert "⚠️" in text.split(recent.number)[0] and "⚠️" not in text.split(recent.number)[1]
    assert (now + timedelta(days=3)).astimezone(services.tz).date().isoformat() in text
    for pupil in (first, second):  # masked; no full names, guardian phones or student numbers
        assert pupil.name not in text and pupil.student_number not in text
        assert pupil.guardian_phone not in text  # type: ignore[operator]
    assert listing.buttons[:2] == ["1. 记录家访", "1. 确认返校"]
    assert keys_behind(teacher, "在办个案")[:4] == [
        f"go:visit:{overdue.id}",
        f"go:return:{overdue.id}",
        f"go:visit:{recent.id}",
        f"go:return:{recent.id}",
    ]


async def test_return_button_starts_the_return_form_for_that_case(
    person: PersonFactory, world: World, services: Services
) -> None:
    case = await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    cadre = await person("cadre_a")  # the cadre of the pupil's home village
    await cadre.send("/mycases")
    await cadre.expect(case.number)
    await cadre.choose("1. 确认返校")
    await cadre.expect(lambda s: "今天" in s.buttons and "哪天" in s.text)
    await cadre.tap("今天")
    await cadre.choose("学校确认已到校")
    await cadre.choose("是，原学校原班级")
    await cadre.choose("已恢复")
    await cadre.expect("保学措施")
    await cadre.tap("完成")
    await cadre.expect("照片")
    await cadre.tap("跳过")
    summary = await cadre.expect("✅ 提交")
    assert case.number in summary.text
    await cadre.tap("✅ 提交")
    await cadre.expect("已确认返校")
    async with services.uow() as uow:
        stored = await uow.cases.get(case.id)
        assert stored is not None and stored.status == CaseStatus.RETENTION
    await cadre.send("/mycases")
    listing = await cadre.expect("保学跟踪回访")
    # Back on 10-13: the first check falls on 10-27 and is overdue if not answered by 10-30.
    assert "2026-10-30" in listing.text
    assert listing.buttons == []  # nothing to visit or confirm any more


async def test_visit_button_starts_the_visit_form_for_that_case(
    person: PersonFactory, world: World, services: Services
) -> None:
    case = await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    teacher = await person("teacher_a")
    await teacher.send("/mycases")
    await teacher.expect(case.number)
    await teacher.choose("1. 记录家访")
    await teacher.expect(lambda s: "今天" in s.buttons and "家访" in s.text)
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
        assert draft is not None and (draft.form, draft.answers.get("case")) == ("visit", str(case.id))


async def test_long_list_is_paginated(person: PersonFactory, world: World, services: Services) -> None:
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
    teacher = await person("teacher_a")
    await teacher.send("/mycases")
    first = await teacher.expect(lambda s: "共 10 个" in s.text and "1/2" in s.buttons)
    assert cases[0].number not in first.text  # the newest is least urgent
    await teacher.tap("▶")
    second = await teacher.expect(lambda s: "2/2" in s.buttons)
    assert cases[0].number in second.text and "9. 确认返校" in second.buttons
    assert cases[-1].number not in second.text
    if isinstance(teacher, TelegramPerson):  # Telegram turns the page in place: the message is edited
        edited = [m for m in teacher.phone.messages if m["from_bot"] and "共 10 个" in m["text"]]
        assert len(edited) == 1 and cases[0].number in edited[0]["text"]
    else:  # WeCom sends the page anew and greys out the card whose "▶" was tapped
        assert isinstance(teacher, WeComPerson)
        assert len(teacher.chat.member.emu.state.card_updates) == 1
    await teacher.tap("◀")
    await teacher.expect(lambda s: "1/2" in s.buttons and cases[-1].number in s.text)


async def test_other_villages_and_classes_see_nothing(
    person: PersonFactory, world: World, services: Services
) -> None:
    await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    cadre = await person("cadre_b")
    await cadre.send("/mycases")
    await cadre.expect("没有在办个案")
    async with services.uow() as uow:
        assert [e.entity for e in await uow.audit.entries("view")] == []
