"""/return end to end, on Telegram and WeCom: confirm a child back at school in a few taps (where, student
record, support measures); bad input re-asked; scope enforced."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telegram.ext import Application

from app.container import Services
from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.people.scope import scope_for
from storage.models import Case, CaseEvent
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, PersonFactory, buttons, wecom_handled
from tests.e2e.people import WECOM, Person, Said, WeComPerson
from tests.e2e.test_visit import image
from tests.e2e.texts import assert_no_internal_words
from tests.factories import World
from tests.wecom_chat import labels, words

ABSENT_DAYS = 4


@pytest.fixture
async def open_case(services: Services, world: World) -> Case:
    """A suspected case of a class A pupil (home village A), reported four days after the absence began."""
    async with services.uow() as uow:
        staff = world.staff["teacher_a"]
        today = services.clock.now().astimezone(services.tz).date()
        report = AbsenceReport(world.student_in(world.class_a).id, today - timedelta(days=ABSENT_DAYS))
        case, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            report,
            now=services.clock.now(),
            policy=services.policy,
            tz=services.tz,
        )
        await uow.commit()
    return case


async def _case_now(services: Services, case_id: int) -> tuple[Case, list[str]]:
    async with services.uow() as uow:
        case = await uow.cases.get(case_id)
        assert case is not None
        return case, [e.kind for e in await uow.cases.events(case_id)]


async def _to_method_step(who: Person, case: Case) -> Said:
    await who.send("/return")
    await who.choose(case.number)
    await who.expect("今天")
    await who.tap("昨天")
    return await who.expect(lambda s: "本人在课堂上见到" in s.buttons)


async def _back_home(who: Person, restored: str = "已恢复", measures: tuple[str, ...] = ()) -> Said:
    """Back at the pupil's own school and class; the record answer and measures; leaves the photo step open."""
    await who.choose("是，原学校原班级")
    return await _record_and_measures(who, restored, measures)


async def _record_and_measures(who: Person, restored: str, measures: tuple[str, ...]) -> Said:
    await who.expect("尚未恢复")
    await who.tap(restored)
    await who.expect("保学措施")
    for measure in measures:
        await who.tap(f"▫️ {measure}")
        await who.expect(f"✅ {measure}")
    await who.tap("完成")
    return await who.expect("照片")


async def _return_event(services: Services, case_id: int) -> CaseEvent:
    async with services.uow() as uow:
        return next(e for e in await uow.cases.events(case_id) if e.kind == "return_confirmed")


async def _to_summary(teacher: Person, case: Case) -> None:
    await _to_method_step(teacher, case)
    await teacher.tap("学校确认已到校")
    await _back_home(teacher)
    await teacher.tap("跳过")
    await teacher.expect("✅ 提交")


@pytest.mark.parametrize("who", ["teacher_a", "cadre_a"])
async def test_return_is_confirmed_in_a_few_taps(
    person: PersonFactory, world: World, services: Services, open_case: Case, who: str
) -> None:
    confirmer = await person(who)
    await _to_method_step(confirmer, open_case)
    await confirmer.tap("本人在课堂上见到")
    ask = await _back_home(confirmer, measures=("结对帮扶", "学业辅导"))
    assert "跳过" in ask.buttons
    await confirmer.send_photo(image(size=(1600, 1200)))
    await confirmer.expect(lambda s: "完成" in s.buttons and "1/1" in s.text)
    await confirmer.send_photo(image(size=(800, 600)))
    assert "最多 1 张" in (await confirmer.expect("最多")).text
    await confirmer.tap("完成")
    summary = await confirmer.expect("✅ 提交")
    assert open_case.number in summary.text and "本人在课堂上见到" in summary.text
    for line in ("复学去向：是，原学校原班级", "学籍恢复：已恢复", "保学措施：结对帮扶、学业辅导"):
        assert line in summary.text
    assert_no_internal_words(summary.text)
    await confirmer.tap("✅ 提交")
    done = await confirmer.expect("已确认返校")
    assert "保学跟踪" in done.text
    assert_no_internal_words(done.text)
    case, kinds = await _case_now(services, open_case.id)
    assert case.status == CaseStatus.RETENTION and case.returned_on is not None
    assert kinds[-2:] == ["return_confirmed", "retention_started"]
    async with services.uow() as uow:
        event = next(e for e in await uow.cases.events(open_case.id) if e.kind == "return_confirmed")
        photos = await uow.attachments.of_event(event.id)
        assert [p.uploaded_by_id for p in photos] == [world.staff[who].id]
        assert event.data["attachment_ids"] == [photos[0].id]
    assert (event.data["receiving_school"], event.data["receiving_class"]) == (None, None)
    assert event.data["record_restored"] is True
    assert event.data["support_measures"] == ["mentoring", "tutoring"]


async def test_other_way_needs_a_description(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await _to_method_step(teacher, open_case)
    await teacher.tap("其他方式")
    ask = await teacher.expect("必填")
    assert "跳过" not in ask.buttons
    await teacher.send_sticker()
    await teacher.expect("请输入文字")
    await teacher.send("校长电话告知已到校")
    await _back_home(teacher)
    await teacher.send_voice()
    await teacher.expect("请发送照片")
    await teacher.tap("跳过")
    summary = await teacher.expect("✅ 提交")
    assert "校长电话告知已到校" in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("已确认返校")
    async with services.uow() as uow:
        event = next(e for e in await uow.cases.events(open_case.id) if e.kind == "return_confirmed")
        assert (event.data["method"], event.data["method_note"]) == ("other", "校长电话告知已到校")


async def test_bad_dates_and_stray_inputs_are_reasked(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await teacher.send("/return")
    await teacher.expect(open_case.number)
    await teacher.send_sticker()
    await teacher.expect("按钮")
    await teacher.choose(open_case.number)
    await teacher.expect("今天")
    async with services.uow() as uow:
        before = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    await teacher.send("2099-01-01")
    await teacher.expect("不能晚于今天")
    assert open_case.first_absent_on is not None
    too_early = open_case.first_absent_on - timedelta(days=1)
    await teacher.send(too_early.isoformat())
    refusal = await teacher.expect("不能早于")
    assert open_case.first_absent_on.isoformat() in refusal.text
    async with services.uow() as uow:
        after = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert before is not None and after is not None
    assert (after.step, after.answers) == (before.step, before.answers)
    await teacher.tap("今天")
    await teacher.expect(lambda s: "本人在课堂上见到" in s.buttons)
    await teacher.send_sticker()
    await teacher.expect("按钮")
    case, kinds = await _case_now(services, open_case.id)
    assert case.status == CaseStatus.SUSPECTED and "return_confirmed" not in kinds


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 5, 7, 9])
async def test_cancel_at_any_step_leaves_nothing(
    person: PersonFactory, services: Services, open_case: Case, steps: int
) -> None:
    teacher = await person("teacher_a")
    await teacher.send("/return")
    await teacher.expect(open_case.number)
    script = [
        (lambda: teacher.choose(open_case.number), lambda s: "今天" in s.buttons),
        (lambda: teacher.tap("今天"), lambda s: "其他方式" in s.buttons),
        (lambda: teacher.tap("其他方式"), lambda s: "必填" in s.text),
        (lambda: teacher.send("电话确认"), lambda s: "是，原学校原班级" in s.buttons),
        (lambda: teacher.tap("不是，在别的学校或班级"), lambda s: "哪所学校" in s.text),
        (lambda: teacher.send("县第二小学"), lambda s: "哪个班级" in s.text),
        (lambda: teacher.send("六年级(1)班"), lambda s: "尚未恢复" in s.buttons),
        (lambda: teacher.tap("尚未恢复"), lambda s: "保学措施" in s.text),
        (lambda: teacher.tap("完成"), lambda s: "照片" in s.text),
        (lambda: teacher.tap("跳过"), lambda s: "✅ 提交" in s.buttons),
    ]
    for action, expect in script[:steps]:
        await action()
        await teacher.expect(expect)
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    case, kinds = await _case_now(services, open_case.id)
    assert case.status == CaseStatus.SUSPECTED and kinds == ["opened", "absence_reported"]
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None


# Telegram only (a phone, not a person): two taps on one message and both callback answers; WeCom's below.
async def test_double_tapped_submit_confirms_once(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    services: Services,
    open_case: Case,
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    await phone.tap(next(b for b in buttons(ask) if open_case.number in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("昨天")
    await phone.wait_for_reply(lambda m: "学校确认已到校" in buttons(m))
    await phone.tap("学校确认已到校")
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("是，原学校原班级")
    await phone.wait_for_reply(lambda m: "尚未恢复" in buttons(m))
    await phone.tap("已恢复")
    await phone.wait_for_reply(lambda m: "保学措施" in m["text"])
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "照片" in m["text"])
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    for _ in range(100):  # until the bot has answered both taps (bounded)
        await phone.refresh()
        if len(phone.callback_answers) >= 2:
            break
        await asyncio.sleep(0.1)
    assert sum("已确认返校" in m["text"] for m in phone.messages) == 1
    _, kinds = await _case_now(services, open_case.id)
    assert kinds.count("return_confirmed") == 1 and kinds.count("retention_started") == 1


@pytest.mark.parametrize("channel", [WECOM])  # WeCom's double tap: two click events on one card
async def test_a_submit_card_tapped_twice_on_wecom_confirms_once(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    assert isinstance(teacher, WeComPerson)
    await _to_summary(teacher, open_case)
    chat = teacher.chat
    card = next(s for s in reversed(chat.since) if "✅ 提交" in labels(s))
    key = next(b["key"] for b in card.body["template_card"]["button_list"] if b["text"] == "✅ 提交")
    chat.mark = len(chat.member.received)
    for _ in range(2):  # a second apart, so WeCom sends two events rather than one redelivered
        chat.advance()
        assert (await chat.member.tap(card, key)).delivered
    await teacher.expect("已确认返校")
    await wecom_handled(services)
    answers = [words(s) for s in chat.since]
    assert sum("已确认返校" in a for a in answers) == 1
    assert any(a.startswith("已提交") for a in answers), answers  # the second tap is told it was done
    _, kinds = await _case_now(services, open_case.id)
    assert kinds.count("return_confirmed") == 1 and kinds.count("retention_started") == 1


async def test_case_id_typed_after_the_command_skips_to_the_date(
    person: PersonFactory, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await teacher.send(f"/return {open_case.id}")
    ask = await teacher.expect(lambda s: "今天" in s.buttons and "哪天" in s.text)
    assert any(
        line.startswith("（1/9）") for line in ask.text.splitlines()
    )  # the case came with the command: not a question


async def _refused_once(services: Services, case: Case) -> None:
    found, kinds = await _case_now(services, case.id)
    assert found.status == CaseStatus.SUSPECTED and "return_confirmed" not in kinds
    async with services.uow() as uow:
        denied = await uow.audit.entries("denied")
        assert [(e.entity, e.entity_id) for e in denied] == [("case", str(case.id))]


async def test_another_villages_case_typed_is_refused_and_logged(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    cadre = await person("cadre_b")
    await cadre.send(f"/return {open_case.id}")
    await cadre.expect("不在您的负责范围")
    await _refused_once(services, open_case)


# A forged callback_data is Telegram's risk: WeCom's button keys are set by the app on the card and the
# click event is signed by WeCom, so a member cannot send a key the app never offered them.
@pytest.mark.parametrize("how", ["forged_button", "forged_choice"])
async def test_another_villages_case_by_a_forged_button_is_refused_and_logged(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    services: Services,
    open_case: Case,
    how: str,
) -> None:
    phone = await bound("cadre_b")
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: "没有可以确认返校" in m["text"])
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    data = f"go:return:{open_case.id}" if how == "forged_button" else f"f:{seq}:{open_case.id}"
    await phone.press_callback(ask["message_id"], data)
    await phone.wait_for_reply(lambda m: "不在您的负责范围" in m["text"] or "不可用" in m["text"])
    await _refused_once(services, open_case)


async def test_a_return_to_another_school_records_where(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await teacher.send("/return")
    ask = await teacher.expect(open_case.number)
    assert any(line.startswith("（1/10）") for line in ask.text.splitlines())
    await teacher.tap(ask.button(open_case.number))
    await teacher.expect("今天")
    await teacher.send("前天")
    await teacher.choose("学校确认已到校")
    await teacher.choose("不是，在别的学校或班级")
    await teacher.expect("哪所学校")
    await teacher.send("县第二小学")
    await teacher.expect("哪个班级")
    await teacher.send("六年级(1)班")
    await _record_and_measures(teacher, "尚未恢复", ("心理疏导",))
    await teacher.tap("跳过")
    summary = await teacher.expect("✅ 提交")
    for line in ("复学学校：县第二小学", "复学班级：六年级(1)班", "学籍恢复：尚未恢复", "保学措施：心理疏导"):
        assert line in summary.text
    assert_no_internal_words(summary.text)
    await teacher.tap("✅ 提交")
    await teacher.expect("已确认返校")
    event = await _return_event(services, open_case.id)
    today = services.clock.now().astimezone(services.tz).date()
    assert event.data["returned_on"] == (today - timedelta(days=2)).isoformat()
    assert (event.data["receiving_school"], event.data["receiving_class"]) == ("县第二小学", "六年级(1)班")
    assert event.data["record_restored"] is False and event.data["support_measures"] == ["counselling"]


async def _to_other_school(teacher: Person, case: Case) -> Said:
    """Another school and class, the record restored; leaves the measures step open."""
    await _to_method_step(teacher, case)
    await teacher.tap("本人在课堂上见到")
    await teacher.choose("不是，在别的学校或班级")
    await teacher.expect("哪所学校")
    await teacher.send("县第二小学")
    await teacher.expect("哪个班级")
    await teacher.send("六年级(1)班")
    await teacher.expect("尚未恢复")
    await teacher.tap("已恢复")
    return await teacher.expect("保学措施")


async def test_back_home_after_all_forgets_the_other_school(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await _to_other_school(teacher, open_case)
    await teacher.tap("完成")
    await teacher.expect("照片")
    await teacher.tap("跳过")
    await teacher.expect("✅ 提交")
    await teacher.tap("✏️ 修改")
    await teacher.choose("复学去向")
    await teacher.choose("是，原学校原班级")
    summary = await teacher.expect("✅ 提交")
    assert "县第二小学" not in summary.text and "保学措施：无" in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("已确认返校")
    event = await _return_event(services, open_case.id)
    assert (event.data["receiving_school"], event.data["support_measures"]) == (None, [])


# Telegram only (a phone): a forged callback_data; on WeCom none is possible (see above).
async def test_a_forged_support_measure_is_refused(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    services: Services,
    open_case: Case,
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    await phone.tap(next(b for b in buttons(ask) if open_case.number in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("昨天")
    await phone.wait_for_reply(lambda m: "本人在课堂上见到" in buttons(m))
    await phone.tap("本人在课堂上见到")
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("是，原学校原班级")
    await phone.wait_for_reply(lambda m: "尚未恢复" in buttons(m))
    await phone.tap("已恢复")
    ask = await phone.wait_for_reply(lambda m: "保学措施" in m["text"])
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    await phone.press_callback(ask["message_id"], f"f:{seq}:bribery")  # not a support measure
    await phone.wait_for_reply(lambda m: "不可用" in m["text"])
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "照片" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    event = await _return_event(services, open_case.id)
    assert event.data["support_measures"] == []
