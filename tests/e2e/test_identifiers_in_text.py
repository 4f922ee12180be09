"""ID and mobile numbers typed into a form's free text are refused in the user's language and the question
is asked again; nothing of them is stored, and the clean answer that follows is accepted."""

from __future__ import annotations

import json

import pytest
from telegram.ext import Application

from app.container import Services
from domain.privacy.identity import id_check_char
from i18n import t
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from storage.models import Case, Student
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.people import TelegramPerson
from tests.e2e.test_visit import open_case_for, to_outcome
from tests.factories import World

FIRST17 = "11010120150301123"  # fictional: Beijing Dongcheng code, born 2015-03-01
ID_NUMBER = FIRST17 + id_check_char(FIRST17)
MOBILE = "138 0000 0001"  # fictional, typed in groups as people do


@pytest.fixture(autouse=True)
def quick_chats(emulator: Emulator) -> None:
    """Each refusal is two messages; faster chats keep the scripts from waiting out flood limits."""
    emulator.set_limits(per_chat_rate=20.0, per_chat_burst=40.0)


async def to_note(phone: Phone, pupil: Student, language: str = "zh_CN") -> None:
    """/report → the pupil → yesterday → the first reason → no flags; leaves the note question open."""
    await phone.send("/report")
    ask = await phone.wait_for_reply(lambda m: bool(buttons(m)))
    await phone.tap(next(b for b in buttons(ask) if pupil.student_number[-4:] in b))
    yesterday = t(language, "form.yesterday")
    await phone.wait_for_reply(lambda m: yesterday in buttons(m))
    await phone.tap(yesterday)
    reasons = await phone.wait_for_reply(lambda m: len(buttons(m)) > 3 and yesterday not in buttons(m))
    await phone.tap(buttons(reasons)[0])
    done = t(language, "form.done")
    await phone.wait_for_reply(lambda m: done in buttons(m))
    await phone.tap(done)
    await phone.wait_for_reply(lambda m: t(language, "form.skip") in buttons(m))


async def draft_text(services: Services, phone: Phone) -> str:
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, phone.user_id))
        return json.dumps(draft.answers if draft else {}, ensure_ascii=False)


async def test_a_note_with_an_id_number_is_refused_then_a_clean_note_is_accepted(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a")
    pupil = world.student_in(world.class_a)
    await to_note(phone, pupil)
    await phone.send(f"家长说孩子身份证号是 {ID_NUMBER}")
    refused = await phone.wait_for_reply(lambda m: "身份证号" in m["text"] and not buttons(m))
    assert refused["text"] == t("zh_CN", "form.note_has_identifiers")
    again = await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    assert again["text"].endswith(t("zh_CN", "report.ask_note"))
    assert ID_NUMBER not in await draft_text(services, phone)
    await phone.send(f"父亲电话 {MOBILE}")  # a mobile in groups is refused the same way
    await phone.wait_for_reply(lambda m: m["text"] == t("zh_CN", "form.note_has_identifiers"))
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    await phone.send("家长说孩子去外婆家了，学号 20260012，9 月 3 日返校")  # ordinary numbers pass
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "家长说孩子去外婆家了" in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None and case.reason == "家长说孩子去外婆家了，学号 20260012，9 月 3 日返校"
        stored = json.dumps([e.data for e in await uow.cases.events(case.id)], ensure_ascii=False)
    assert ID_NUMBER not in stored and "0000 0001" not in stored


async def test_an_english_teacher_is_refused_in_english(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    phone = await bound("teacher_a", language_code="en")
    await to_note(phone, world.student_in(world.class_a), "en")
    await phone.send(f"Mother's phone: +86 {MOBILE}")
    refused = await phone.wait_for_reply(lambda m: not buttons(m))
    assert refused["text"] == t("en", "form.note_has_identifiers")
    assert "0000 0001" not in await draft_text(services, phone)


async def test_an_outcome_detail_with_a_full_width_mobile_is_refused(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    case: Case = await open_case_for(services, world, "teacher_a", "class_a")
    phone = await bound("teacher_a")
    await to_outcome(TelegramPerson(phone), case)
    await phone.tap("其他")
    await phone.wait_for_reply(lambda m: "简要说明情况" in m["text"])
    await phone.send("孩子随奶奶去了县城，奶奶电话１３８００００００01")
    refused = await phone.wait_for_reply(lambda m: not buttons(m))
    assert refused["text"] == t("zh_CN", "form.text_has_identifiers")
    await phone.wait_for_reply(lambda m: "简要说明情况" in m["text"])
    assert "奶奶电话" not in await draft_text(services, phone)
    await phone.send("孩子随奶奶去了县城")
    await phone.wait_for_reply(lambda m: "家访照片" in m["text"])
    assert "孩子随奶奶去了县城" in await draft_text(services, phone)
