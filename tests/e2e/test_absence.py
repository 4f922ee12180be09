"""/report end to end: a teacher reports an absence in a few taps; every bad input is re-asked."""

from __future__ import annotations

import pytest
from telegram.ext import Application

from app.container import Services
from domain.privacy.identity import mask_name
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, PersonFactory, buttons
from tests.e2e.people import TELEGRAM
from tests.e2e.texts import assert_no_internal_words
from tests.factories import World


def has_buttons(m: dict) -> bool:  # type: ignore[type-arg]
    return bool(buttons(m))


async def test_teacher_reports_an_absence_in_a_few_taps(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    pupil = world.student_in(world.class_a)
    await teacher.send("/report")
    ask = await teacher.expect(pupil.student_number[-4:])
    label = ask.button(pupil.student_number[-4:])
    assert label.startswith(mask_name(pupil.name))
    assert pupil.name not in " ".join(ask.buttons)  # masked in chat by default
    await teacher.tap(label)
    await teacher.choose("昨天")
    await teacher.choose("厌学辍学")
    await teacher.choose("▫️ 留守儿童")
    await teacher.expect("✅ 留守儿童")
    await teacher.tap("完成")
    await teacher.expect("跳过")
    await teacher.send("家长说孩子去外婆家了")
    summary = await teacher.expect("✅ 提交")
    assert "厌学辍学" in summary.text and "留守儿童" in summary.text
    await teacher.tap("✅ 提交")
    done = await teacher.expect("个案编号")
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None and case.number in done.text
        assert case.category_code == "A2"
        assert await uow.students.flags(pupil.id) == ["left_behind"]
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None


async def test_search_by_name_fragment(person: PersonFactory, world: World) -> None:
    teacher = await person("teacher_b")
    pupil = world.student_in(world.class_b)
    await teacher.send("/report")
    await teacher.expect(lambda s: bool(s.buttons))
    await teacher.send(pupil.name[-2:])
    found = await teacher.expect("搜索结果")
    assert any(pupil.student_number[-4:] in b for b in found.buttons)


async def test_future_date_and_stray_inputs_are_reasked(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    pupil = world.student_in(world.class_a)
    await teacher.send("/report")
    await teacher.expect(pupil.student_number[-4:])
    await teacher.send_sticker()
    await teacher.expect(lambda s: "按钮" in s.text or "没有找到" in s.text or bool(s.buttons))
    await teacher.choose(pupil.student_number[-4:])
    await teacher.expect("今天")
    async with services.uow() as uow:
        before = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    await teacher.send("2099-01-01")
    await teacher.expect("不能晚于今天")
    await teacher.send("前天吧")
    await teacher.expect("没有看懂")
    async with services.uow() as uow:
        after = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert (
        before is not None
        and after is not None
        and (after.step, after.answers) == (before.step, before.answers)
    )
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(pupil.id) is None
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None


async def test_forged_button_for_another_class_is_refused_and_logged(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a")
    other = world.student_in(world.class_b)
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    await phone.press_callback(ask["message_id"], f"f:{seq}:{other.id}")
    refusal = await phone.wait_for_reply(lambda m: "不可用" in m["text"])
    assert refusal
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(other.id) is None
        assert any(e.action == "denied" and e.entity == "student" for e in await uow.audit.entries())


async def test_a_lost_reply_is_recovered_by_tapping_the_old_button_again(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    """Weak signal: the answer was saved but its reply never arrived; the old button shows the current step."""
    phone = await bound("teacher_a")
    pupil = world.student_in(world.class_a)
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    label = next(b for b in buttons(ask) if pupil.student_number[-4:] in b)
    await phone.tap(label, message_id=ask["message_id"])
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap(label, message_id=ask["message_id"])  # as if that reply had been lost
    again = await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    assert "从哪天开始缺勤" in again["text"]
    await phone.refresh()
    assert any("过时" in str(a) for a in phone.callback_answers), phone.callback_answers
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        assert draft is not None and draft.step == "absent_since"


async def test_a_sensitive_flag_is_never_shown_in_chat_and_stays_on_file(
    person: PersonFactory, world: World, services: Services
) -> None:
    pupil = world.student_in(world.class_a)
    async with services.uow() as uow:  # set by a coordinator on the dashboard
        await uow.students.set_flags(pupil.id, ["parent_imprisoned", "single_parent"])
        await uow.commit()
    teacher = await person("teacher_a")
    await teacher.send("/report")
    ask = await teacher.expect(pupil.student_number[-4:])
    assert any(line.startswith("（1/5）") for line in ask.text.splitlines())
    await teacher.tap(ask.button(pupil.student_number[-4:]))
    await teacher.expect("今天")
    await teacher.send("前天")
    await teacher.choose("暂不清楚")
    flags = await teacher.expect("完成")
    offered = " ".join(flags.buttons)
    assert (
        "✅ 单亲家庭" in offered and "服刑" not in offered and "早婚" not in offered and "信教" not in offered
    )
    await teacher.tap("▫️ 留守儿童")
    await teacher.expect("✅ 留守儿童")
    await teacher.tap("✅ 单亲家庭")  # unticked
    await teacher.expect("▫️ 单亲家庭")
    await teacher.tap("完成")
    await teacher.choose("跳过")
    summary = await teacher.expect("✅ 提交")
    assert "重点群体：留守儿童" in summary.text and "服刑" not in summary.text
    assert_no_internal_words(summary.text)
    await teacher.tap("✅ 提交")
    done = await teacher.expect("个案编号")
    assert "服刑" not in done.text
    assert_no_internal_words(done.text)
    async with services.uow() as uow:
        assert await uow.students.flags(pupil.id) == ["left_behind", "parent_imprisoned"]
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None
        [reported] = [e for e in await uow.cases.events(case.id) if e.kind == "absence_reported"]
        assert reported.data["flags"] == ["left_behind"]


@pytest.mark.parametrize("channel", [TELEGRAM])  # a WeCom callback is XML, which cannot hold a NUL
async def test_nul_characters_in_chat_text_are_dropped(
    person: PersonFactory, world: World, services: Services
) -> None:
    """A NUL in typed text (which PostgreSQL cannot store or compare) is dropped before any form step."""
    teacher = await person("teacher_a")
    pupil = world.student_in(world.class_a)
    await teacher.send("/report")
    await teacher.expect(lambda s: bool(s.buttons))
    await teacher.send(pupil.name[-2] + "\x00" + pupil.name[-1])  # the search runs a query with the text
    found = await teacher.expect("搜索结果")
    await teacher.tap(found.button(pupil.student_number[-4:]))
    await teacher.choose("昨天")
    await teacher.choose("厌学辍学")
    await teacher.choose("完成")
    await teacher.expect("跳过")
    await teacher.send("\x00")  # nothing left once the NUL is gone: asked again, as for an empty text
    await teacher.expect("请输入文字")
    await teacher.send("家长说\x00孩子去外婆家了")
    summary = await teacher.expect("✅ 提交")
    assert "\x00" not in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("个案编号")
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(pupil.id) is not None


async def test_a_button_left_from_a_cancelled_form_does_not_answer_the_next_one(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    """Both forms reach the date question after the same number of answers; the first form's date
    button, tapped during the second, is stale: each form counts from its own random start."""
    phone = await bound("teacher_a")
    first, second = [s for s in world.students if s.class_id == world.class_a.id][:2]
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    await phone.tap(next(b for b in buttons(ask) if first.student_number[-4:] in b))
    old = await phone.wait_for_reply(lambda m: "昨天" in buttons(m))
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    await phone.tap(next(b for b in buttons(ask) if second.student_number[-4:] in b))
    await phone.wait_for_reply(lambda m: "昨天" in buttons(m))
    async with services.uow() as uow:
        before = await uow.drafts.get(await draft_key(uow, phone.user_id))
    await phone.tap("昨天", message_id=old["message_id"])
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))  # the current question, shown again
    await phone.refresh()
    assert any("过时" in str(a) for a in phone.callback_answers), phone.callback_answers
    async with services.uow() as uow:
        after = await uow.drafts.get(await draft_key(uow, phone.user_id))
    assert before is not None and after is not None
    assert (after.step, after.answers, after.seq) == (before.step, before.answers, before.seq)
