"""/report end to end: a teacher reports an absence in a few taps; every bad input is re-asked."""

from __future__ import annotations

from telegram.ext import Application

from app.container import Services
from domain.privacy.identity import mask_name
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.texts import assert_no_internal_words
from tests.factories import World


def has_buttons(m: dict) -> bool:  # type: ignore[type-arg]
    return bool(buttons(m))


async def test_teacher_reports_an_absence_in_a_few_taps(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a")
    pupil = world.student_in(world.class_a)
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    label = next(
        b for b in buttons(ask) if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b
    )
    assert pupil.name not in " ".join(buttons(ask))  # masked in chat by default
    await phone.tap(label)
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("昨天")
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m))
    await phone.tap("厌学辍学")
    await phone.wait_for_reply(lambda m: "完成" in buttons(m))
    await phone.tap("▫️ 留守儿童")
    await phone.wait_for_reply(lambda m: "✅ 留守儿童" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    await phone.send("家长说孩子去外婆家了")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "厌学辍学" in summary["text"] and "留守儿童" in summary["text"]
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None and case.number in done["text"]
        assert case.category_code == "A2"
        assert await uow.students.flags(pupil.id) == ["left_behind"]
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


async def test_search_by_name_fragment(polling_bot: Application, bound: BindFactory, world: World) -> None:
    phone = await bound("teacher_b")
    pupil = world.student_in(world.class_b)
    await phone.send("/report")
    await phone.wait_for_reply(has_buttons)
    await phone.send(pupil.name[-2:])
    found = await phone.wait_for_reply(lambda m: "搜索结果" in m["text"])
    assert any(pupil.student_number[-4:] in b for b in buttons(found))


async def test_future_date_and_stray_inputs_are_reasked(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a")
    pupil = world.student_in(world.class_a)
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    await phone.send_sticker()
    await phone.wait_for_reply(lambda m: "按钮" in m["text"] or "没有找到" in m["text"] or has_buttons(m))
    await phone.tap(
        next(b for b in buttons(ask) if pupil.student_number[-4:] in b), message_id=ask["message_id"]
    )
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send("2099-01-01")
    assert "不能晚于今天" in (await phone.wait_for_reply(lambda m: "今天" not in buttons(m)))["text"]
    await phone.send("前天吧")
    assert "没有看懂" in (await phone.wait_for_reply(lambda m: "今天" not in buttons(m)))["text"]
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(pupil.id) is None
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


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
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    pupil = world.student_in(world.class_a)
    async with services.uow() as uow:  # set by a coordinator on the dashboard
        await uow.students.set_flags(pupil.id, ["parent_imprisoned", "single_parent"])
        await uow.commit()
    phone = await bound("teacher_a")
    await phone.send("/report")
    ask = await phone.wait_for_reply(has_buttons)
    assert ask["text"].startswith("（1/5）")
    await phone.tap(next(b for b in buttons(ask) if pupil.student_number[-4:] in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send("前天")
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m))
    await phone.tap("暂不清楚")
    flags = await phone.wait_for_reply(lambda m: "完成" in buttons(m))
    offered = " ".join(buttons(flags))
    assert (
        "✅ 单亲家庭" in offered and "服刑" not in offered and "早婚" not in offered and "信教" not in offered
    )
    await phone.tap("▫️ 留守儿童")
    await phone.wait_for_reply(lambda m: "✅ 留守儿童" in buttons(m))
    await phone.tap("✅ 单亲家庭")  # unticked
    await phone.wait_for_reply(lambda m: "▫️ 单亲家庭" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "重点群体：留守儿童" in summary["text"] and "服刑" not in summary["text"]
    assert_no_internal_words(summary["text"])
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    assert "服刑" not in done["text"]
    assert_no_internal_words(done["text"])
    async with services.uow() as uow:
        assert await uow.students.flags(pupil.id) == ["left_behind", "parent_imprisoned"]
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None
        [reported] = [e for e in await uow.cases.events(case.id) if e.kind == "absence_reported"]
        assert reported.data["flags"] == ["left_behind"]


async def test_nul_characters_in_chat_text_are_dropped(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    """A NUL in typed text (which PostgreSQL cannot store or compare) is dropped before any form step."""
    phone = await bound("teacher_a")
    pupil = world.student_in(world.class_a)
    await phone.send("/report")
    await phone.wait_for_reply(has_buttons)
    await phone.send(pupil.name[-2] + "\x00" + pupil.name[-1])  # the search runs a query with the text
    found = await phone.wait_for_reply(lambda m: "搜索结果" in m["text"])
    await phone.tap(next(b for b in buttons(found) if pupil.student_number[-4:] in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("昨天")
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m))
    await phone.tap("厌学辍学")
    await phone.wait_for_reply(lambda m: "完成" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    await phone.send("\x00")  # nothing left once the NUL is gone: asked again, as for an empty text
    reasked = await phone.wait_for_reply(lambda m: True)
    assert "请输入文字" in reasked["text"], reasked
    await phone.send("家长说\x00孩子去外婆家了")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "\x00" not in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    async with services.uow() as uow:
        assert await uow.cases.open_for_student(pupil.id) is not None
