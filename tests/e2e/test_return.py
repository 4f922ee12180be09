"""/return end to end: confirm a child back at school in a few taps (where, student record, support
measures); bad input re-asked; scope enforced."""

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
from sandbox.phone import Phone
from storage.models import Case, CaseEvent
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.texts import assert_no_internal_words
from tests.factories import World

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


async def _to_method_step(phone: Phone, case: Case) -> dict:  # type: ignore[type-arg]
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: any(case.number in b for b in buttons(m)))
    await phone.tap(next(b for b in buttons(ask) if case.number in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("昨天")
    return await phone.wait_for_reply(lambda m: "本人在课堂上见到" in buttons(m))


async def _back_home(phone: Phone, restored: str = "已恢复", measures: tuple[str, ...] = ()) -> dict:  # type: ignore[type-arg]
    """Back at the pupil's own school and class; the record answer and measures; leaves the photo step open."""
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("是，原学校原班级")
    return await _record_and_measures(phone, restored, measures)


async def _record_and_measures(phone: Phone, restored: str, measures: tuple[str, ...]) -> dict:  # type: ignore[type-arg]
    await phone.wait_for_reply(lambda m: "尚未恢复" in buttons(m))
    await phone.tap(restored)
    await phone.wait_for_reply(lambda m: "保学措施" in m["text"])
    for measure in measures:
        await phone.tap(f"▫️ {measure}")
        await phone.wait_for_reply(lambda m, x=measure: f"✅ {x}" in buttons(m))  # type: ignore[misc]
    await phone.tap("完成")
    return await phone.wait_for_reply(lambda m: "照片" in m["text"])


async def _return_event(services: Services, case_id: int) -> CaseEvent:
    async with services.uow() as uow:
        return next(e for e in await uow.cases.events(case_id) if e.kind == "return_confirmed")


@pytest.mark.parametrize("who", ["teacher_a", "cadre_a"])
async def test_return_is_confirmed_in_a_few_taps(
    polling_bot: Application, bound: BindFactory, world: World, services: Services, open_case: Case, who: str
) -> None:
    phone = await bound(who)
    await _to_method_step(phone, open_case)
    await phone.tap("本人在课堂上见到")
    ask = await _back_home(phone, measures=("结对帮扶", "学业辅导"))
    assert "跳过" in buttons(ask)
    await phone.send_photo(width=1600, height=1200)
    await phone.wait_for_reply(lambda m: "完成" in buttons(m) and "1/1" in m["text"])
    await phone.send_photo(width=800, height=600)
    assert "最多 1 张" in (await phone.wait_for_reply(lambda m: "最多" in m["text"]))["text"]
    await phone.tap("完成")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert open_case.number in summary["text"] and "本人在课堂上见到" in summary["text"]
    for line in ("复学去向：是，原学校原班级", "学籍恢复：已恢复", "保学措施：结对帮扶、学业辅导"):
        assert line in summary["text"]
    assert_no_internal_words(summary["text"])
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    assert "保学跟踪" in done["text"]
    assert_no_internal_words(done["text"])
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
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await _to_method_step(phone, open_case)
    await phone.tap("其他方式")
    ask = await phone.wait_for_reply(lambda m: "必填" in m["text"])
    assert "跳过" not in buttons(ask)
    await phone.send_sticker()
    assert "请输入文字" in (await phone.wait_for_reply(lambda m: "必填" not in m["text"]))["text"]
    await phone.send("校长电话告知已到校")
    await _back_home(phone)
    await phone.send_voice()
    await phone.wait_for_reply(lambda m: "请发送照片" in m["text"])
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "校长电话告知已到校" in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    async with services.uow() as uow:
        event = next(e for e in await uow.cases.events(open_case.id) if e.kind == "return_confirmed")
        assert (event.data["method"], event.data["method_note"]) == ("other", "校长电话告知已到校")


async def test_bad_dates_and_stray_inputs_are_reasked(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    await phone.send_sticker()
    assert "按钮" in (await phone.wait_for_reply(lambda m: "按钮" in m["text"]))["text"]
    await phone.tap(next(b for b in buttons(ask) if open_case.number in b), message_id=ask["message_id"])
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send("2099-01-01")
    assert "不能晚于今天" in (await phone.wait_for_reply(lambda m: "今天" not in buttons(m)))["text"]
    assert open_case.first_absent_on is not None
    too_early = open_case.first_absent_on - timedelta(days=1)
    await phone.send(too_early.isoformat())
    refusal = await phone.wait_for_reply(lambda m: "不能早于" in m["text"])
    assert open_case.first_absent_on.isoformat() in refusal["text"]
    await phone.tap("今天")
    await phone.wait_for_reply(lambda m: "本人在课堂上见到" in buttons(m))
    await phone.send_sticker()
    await phone.wait_for_reply(lambda m: "按钮" in m["text"])
    case, kinds = await _case_now(services, open_case.id)
    assert case.status == CaseStatus.SUSPECTED and "return_confirmed" not in kinds


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 5, 7, 9])
async def test_cancel_at_any_step_leaves_nothing(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case, steps: int
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    script = [
        (
            lambda: phone.tap(next(b for b in buttons(ask) if open_case.number in b)),
            lambda m: "今天" in buttons(m),
        ),
        (lambda: phone.tap("今天"), lambda m: "其他方式" in buttons(m)),
        (lambda: phone.tap("其他方式"), lambda m: "必填" in m["text"]),
        (lambda: phone.send("电话确认"), lambda m: "是，原学校原班级" in buttons(m)),
        (lambda: phone.tap("不是，在别的学校或班级"), lambda m: "哪所学校" in m["text"]),
        (lambda: phone.send("县第二小学"), lambda m: "哪个班级" in m["text"]),
        (lambda: phone.send("六年级(1)班"), lambda m: "尚未恢复" in buttons(m)),
        (lambda: phone.tap("尚未恢复"), lambda m: "保学措施" in m["text"]),
        (lambda: phone.tap("完成"), lambda m: "照片" in m["text"]),
        (lambda: phone.tap("跳过"), lambda m: "✅ 提交" in buttons(m)),
    ]
    for action, expect in script[:steps]:
        await action()
        await phone.wait_for_reply(expect)
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    case, kinds = await _case_now(services, open_case.id)
    assert case.status == CaseStatus.SUSPECTED and kinds == ["opened", "absence_reported"]
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


async def test_double_tapped_submit_confirms_once(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await _to_method_step(phone, open_case)
    await phone.tap("学校确认已到校")
    await _back_home(phone)
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


async def test_case_id_typed_after_the_command_skips_to_the_date(
    polling_bot: Application, bound: BindFactory, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await phone.send(f"/return {open_case.id}")
    ask = await phone.wait_for_reply(lambda m: "今天" in buttons(m) and "哪天" in m["text"])
    assert ask["text"].startswith("（1/9）")  # the case came with the command: not a question


@pytest.mark.parametrize("how", ["typed", "forged_button", "forged_choice"])
async def test_another_villages_case_is_refused_and_logged(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case, how: str
) -> None:
    phone = await bound("cadre_b")
    if how == "typed":
        await phone.send(f"/return {open_case.id}")
    else:
        await phone.send("/return")
        ask = await phone.wait_for_reply(lambda m: "没有可以确认返校" in m["text"])
        async with services.uow() as uow:
            seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
        data = f"go:return:{open_case.id}" if how == "forged_button" else f"f:{seq}:{open_case.id}"
        await phone.press_callback(ask["message_id"], data)
    await phone.wait_for_reply(lambda m: "不在您的负责范围" in m["text"] or "不可用" in m["text"])
    case, kinds = await _case_now(services, open_case.id)
    assert case.status == CaseStatus.SUSPECTED and "return_confirmed" not in kinds
    async with services.uow() as uow:
        denied = await uow.audit.entries("denied")
        assert [(e.entity, e.entity_id) for e in denied] == [("case", str(open_case.id))]


async def test_a_return_to_another_school_records_where(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/return")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    assert ask["text"].startswith("（1/10）")
    await phone.tap(next(b for b in buttons(ask) if open_case.number in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send("前天")
    await phone.wait_for_reply(lambda m: "学校确认已到校" in buttons(m))
    await phone.tap("学校确认已到校")
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("不是，在别的学校或班级")
    await phone.wait_for_reply(lambda m: "哪所学校" in m["text"])
    await phone.send("县第二小学")
    await phone.wait_for_reply(lambda m: "哪个班级" in m["text"])
    await phone.send("六年级(1)班")
    await _record_and_measures(phone, "尚未恢复", ("心理疏导",))
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    for line in ("复学学校：县第二小学", "复学班级：六年级(1)班", "学籍恢复：尚未恢复", "保学措施：心理疏导"):
        assert line in summary["text"]
    assert_no_internal_words(summary["text"])
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    event = await _return_event(services, open_case.id)
    today = services.clock.now().astimezone(services.tz).date()
    assert event.data["returned_on"] == (today - timedelta(days=2)).isoformat()
    assert (event.data["receiving_school"], event.data["receiving_class"]) == ("县第二小学", "六年级(1)班")
    assert event.data["record_restored"] is False and event.data["support_measures"] == ["counselling"]


async def test_back_home_after_all_forgets_the_other_school_and_a_forged_measure_is_refused(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await _to_method_step(phone, open_case)
    await phone.tap("本人在课堂上见到")
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("不是，在别的学校或班级")
    await phone.wait_for_reply(lambda m: "哪所学校" in m["text"])
    await phone.send("县第二小学")
    await phone.wait_for_reply(lambda m: "哪个班级" in m["text"])
    await phone.send("六年级(1)班")
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
    await phone.tap("✏️ 修改")
    await phone.wait_for_reply(lambda m: "复学去向" in buttons(m))
    await phone.tap("复学去向")
    await phone.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
    await phone.tap("是，原学校原班级")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "县第二小学" not in summary["text"] and "保学措施：无" in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "已确认返校" in m["text"])
    event = await _return_event(services, open_case.id)
    assert (event.data["receiving_school"], event.data["support_measures"]) == (None, [])
