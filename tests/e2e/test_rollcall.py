"""/rollcall end to end, on Telegram and on WeCom: a class teacher ticks who has not arrived; suspected
cases open with the 15-day rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from app.container import Services
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from domain.policy import Policy
from domain.privacy.identity import mask_name
from sandbox.wecom import WeComEmulator
from storage.models import Student, TeachingAssignment
from tests.accounts import draft_key
from tests.e2e.conftest import PersonFactory, wecom_settings
from tests.e2e.people import TELEGRAM, WECOM, Person, Said, TelegramPerson, WeComPerson
from tests.factories import World
from tests.web.live import live_server

TERM_START = date(2026, 9, 1)  # the shipped policy's autumn term


@pytest.fixture(autouse=True)
def second_day_of_term(clock: FixedClock) -> None:
    clock.set(datetime(2026, 9, 2, 1, 0, tzinfo=UTC))  # 09:00 in Beijing


def pupil_button(said: Said, pupil: Student) -> str:
    return said.button(pupil.student_number[-4:])


def checklist(s: Said) -> bool:
    return "完成" in s.buttons and "未到校" in s.text


async def draft_of(services: Services, who: Person) -> object:
    async with services.uow() as uow:
        return await uow.drafts.get(await draft_key(uow, who.account, who.channel))


async def test_teacher_ticks_absent_pupils_and_suspected_cases_open(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    first, second = [s for s in world.students if s.class_id == world.class_a.id][:2]
    await teacher.send("/rollcall")
    ask = await teacher.expect(checklist)  # one class: straight to the checklist
    assert "0/4" in ask.text and first.name not in ask.text + " ".join(ask.buttons)
    if isinstance(teacher, TelegramPerson):  # remember the checklist, to see it is edited in place
        await teacher.phone.refresh()
        checklist_id = teacher.phone.messages[-1]["message_id"]
    await teacher.tap(pupil_button(ask, first))
    ticked = await teacher.expect("1/4")
    if isinstance(teacher, TelegramPerson):  # a Telegram message can be edited; a WeCom card is resent
        await teacher.phone.refresh()
        assert teacher.phone.messages[-1]["message_id"] == checklist_id
    assert pupil_button(ticked, first).startswith("❌ " + mask_name(first.name))
    await teacher.tap(pupil_button(ticked, second))
    ticked = await teacher.expect("2/4")
    await teacher.tap(pupil_button(ticked, second))  # tapped by mistake: untick
    await teacher.expect("1/4")
    await teacher.tap("完成")
    summary = await teacher.expect(lambda s: "✅ 提交" in s.buttons)
    assert world.class_a.name in summary.text and first.student_number[-4:] in summary.text
    assert second.student_number[-4:] not in summary.text
    await teacher.tap("✅ 提交")
    done = await teacher.expect("新建疑似辍学个案 1 个")
    assert (TERM_START + timedelta(days=15)).isoformat() in done.text
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(first.id)
        assert case is not None and case.status == CaseStatus.SUSPECTED
        assert case.first_absent_on == TERM_START
        assert await uow.cases.open_for_student(second.id) is None


async def test_whole_class_present_needs_one_tap_and_submit(
    person: PersonFactory, services: Services
) -> None:
    teacher = await person("teacher_b")
    await teacher.send("/rollcall")
    await teacher.expect(checklist)
    await teacher.tap("完成")
    summary = await teacher.expect(lambda s: "✅ 提交" in s.buttons)
    assert "无" in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("全班到齐")
    async with services.uow() as uow:
        assert await uow.cases.count_by_status() == {}


async def test_large_class_is_paginated(person: PersonFactory, world: World, services: Services) -> None:
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
    teacher = await person("teacher_a")
    await teacher.send("/rollcall")
    ask = await teacher.expect(checklist)
    assert "1/2" in ask.buttons and "0/14" in ask.text
    await teacher.tap("▶")
    page2 = await teacher.expect(lambda s: "2/2" in s.buttons)
    last = next(s for s in extra if any(s.student_number[-4:] in b for b in page2.buttons))
    await teacher.tap(pupil_button(page2, last))
    await teacher.expect(lambda s: "1/14" in s.text and "2/2" in s.buttons)
    await teacher.tap("完成")
    await teacher.expect(lambda s: "✅ 提交" in s.buttons)
    await teacher.tap("✅ 提交")
    await teacher.expect("新建疑似辍学个案 1 个")
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(last.id) is not None


async def test_teacher_of_two_classes_chooses_the_class_first(
    person: PersonFactory, world: World, services: Services
) -> None:
    async with services.uow() as uow:
        uow.session.add(
            TeachingAssignment(
                staff_id=world.staff["teacher_a"].id, class_id=world.class_b.id, is_class_teacher=True
            )
        )
        await uow.commit()
    teacher = await person("teacher_a")
    await teacher.send("/rollcall")
    await teacher.expect(lambda s: world.class_b.name in s.buttons)
    await teacher.send_sticker()
    await teacher.expect("按钮")
    await teacher.tap(world.class_b.name)
    ask = await teacher.expect(checklist)
    pupil = world.student_in(world.class_b)
    await teacher.tap(pupil_button(ask, pupil))
    await teacher.expect("1/4")
    await teacher.send_sticker()
    await teacher.expect("按钮")
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    async with services.uow() as uow:
        assert await uow.cases.count_by_status() == {}
    assert await draft_of(services, teacher) is None


@pytest.mark.parametrize("who", ["subject", "cadre_a"])
async def test_roll_call_is_only_for_class_teachers(person: PersonFactory, who: str) -> None:
    someone = await person(who)
    await someone.send("/rollcall")
    await someone.expect("不适用于您的角色")


# A forged callback_data is Telegram's risk: any client may send one.
@pytest.mark.parametrize("channel", [TELEGRAM])
async def test_forged_pupil_of_another_class_is_refused_and_logged(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    assert isinstance(teacher, TelegramPerson)
    await teacher.send("/rollcall")
    await teacher.expect(checklist)
    await teacher.phone.refresh()
    seq = (await draft_of(services, teacher)).seq  # type: ignore[attr-defined]
    other = world.student_in(world.class_b)
    await teacher.phone.press_callback(teacher.phone.messages[-1]["message_id"], f"f:{seq}:{other.id}")
    await teacher.phone.wait_for_reply(lambda m: "不可用" in m["text"])
    await assert_refused_and_logged(services, teacher, other)


# WeCom's analogue: a card event whose EventKey names a pupil of another class. WeCom signs what it
# forwards, so only a card the member was sent could carry a key; the product must still check it.
@pytest.mark.parametrize("channel", [WECOM])
async def test_a_card_tap_naming_a_pupil_of_another_class_is_refused_and_logged(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    assert isinstance(teacher, WeComPerson)
    await teacher.send("/rollcall")
    await teacher.expect(checklist)
    seq = (await draft_of(services, teacher)).seq  # type: ignore[attr-defined]
    other = world.student_in(world.class_b)
    chat = teacher.chat
    card = next(s for s in reversed(chat.since) if s.msgtype == "template_card")
    key = f"f:{seq}:{other.id}"
    card.body["template_card"]["button_list"].append({"text": "?", "key": key})  # as if it had been sent
    chat.mark = len(chat.member.received)
    assert (await chat.member.tap(card, key)).delivered
    await teacher.expect("不可用")
    await assert_refused_and_logged(services, teacher, other)


async def assert_refused_and_logged(services: Services, teacher: Person, other: Student) -> None:
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
        assert draft is not None and not draft.answers.get("absent")
        denied = await uow.audit.entries("denied")
        assert [(e.entity, e.entity_id) for e in denied] == [("student", str(other.id))]


async def test_class_teacher_without_a_class_is_told_so(
    person: PersonFactory, world: World, services: Services
) -> None:
    async with services.uow() as uow:
        for assignment in await uow.directory.assignments(world.staff["teacher_b"].id):
            assignment.is_class_teacher = False
        await uow.commit()
    teacher = await person("teacher_b")
    await teacher.send("/rollcall")
    await teacher.expect("不是任何班级的班主任")


async def test_roll_call_outside_the_term_start_window_is_refused_with_the_next_window(
    person: PersonFactory, services: Services, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))  # mid-term: the window (09-01 to 09-03) is over
    teacher = await person("teacher_a")
    await teacher.send("/rollcall")
    refusal = await teacher.expect("不在点名期间")
    assert "前 3 个上学日" in refusal.text and "2027-02-22 至 2027-02-24" in refusal.text
    assert refusal.buttons == []
    assert await draft_of(services, teacher) is None
    async with services.uow() as uow:
        assert await uow.audit.entries("roll_call") == []


async def test_a_roll_call_submitted_after_the_last_roll_call_day_records_nothing(
    person: PersonFactory, world: World, services: Services, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 9, 3, 14, 0, tzinfo=UTC))  # 22:00 on the third and last roll-call day
    teacher = await person("teacher_a")
    pupil = world.student_in(world.class_a)
    await teacher.send("/rollcall")
    ask = await teacher.expect(checklist)
    await teacher.tap(pupil_button(ask, pupil))
    await teacher.expect("1/4")
    await teacher.tap("完成")
    await teacher.expect(lambda s: "✅ 提交" in s.buttons)
    clock.set(datetime(2026, 9, 4, 1, 0, tzinfo=UTC))  # submitted the next morning
    await teacher.tap("✅ 提交")
    await teacher.expect(lambda s: "不在点名期间" in s.text and "2027-02-22" in s.text)
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(pupil.id) is None
        assert await uow.audit.entries("roll_call") == []


class TestAnEditedPolicy:
    """The county's policy file with its verification window shortened to 10 days, on both channels."""

    @pytest.fixture
    def edited_policy(self, services: Services) -> Policy:
        services.policy = dataclasses.replace(services.policy, verification_window=timedelta(days=10))
        return services.policy  # the Telegram bot runs on `services`

    @pytest.fixture
    def wecom_server(
        self,
        edited_policy: Policy,
        database_url: str,
        tmp_path: Path,
        clock: FixedClock,
        wecom_emu: WeComEmulator,
    ) -> Iterator[str]:
        """conftest's wecom_server, running the edited policy."""
        media = tmp_path / "media"
        with live_server(database_url, media, clock, edited_policy, **wecom_settings(wecom_emu)) as url:
            wecom_emu.connect(f"{url}/wecom/callback")
            yield url

    async def test_the_confirmation_quotes_the_policy_verification_window(
        self, edited_policy: Policy, person: PersonFactory, world: World
    ) -> None:
        teacher = await person("teacher_a")
        await teacher.send("/rollcall")
        ask = await teacher.expect(checklist)
        await teacher.tap(pupil_button(ask, world.student_in(world.class_a)))
        await teacher.expect("1/4")
        await teacher.tap("完成")
        await teacher.expect(lambda s: "✅ 提交" in s.buttons)
        await teacher.tap("✅ 提交")
        done = await teacher.expect("新建疑似辍学个案 1 个")
        assert "开学后10天内" in done.text and "15天" not in done.text
        assert (TERM_START + timedelta(days=10)).isoformat() in done.text
