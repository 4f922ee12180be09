"""ID and mobile numbers typed into a form's free text are refused in the user's language and the question
is asked again, on Telegram and WeCom; nothing of them is stored, and the clean answer that follows is
accepted."""

from __future__ import annotations

import json

import pytest

from app.container import Services
from domain.privacy.identity import id_check_char
from i18n import t
from sandbox.emulator import Emulator
from storage.models import Case, Student
from tests.accounts import draft_key
from tests.e2e.conftest import PersonFactory
from tests.e2e.people import TELEGRAM, Person, Said
from tests.e2e.test_mycases import open_case
from tests.factories import World

FIRST17 = "11010120150301123"  # fictional: Beijing Dongcheng code, born 2015-03-01
ID_NUMBER = FIRST17 + id_check_char(FIRST17)
MOBILE = "138 0000 0001"  # fictional, typed in groups as people do


@pytest.fixture(autouse=True)
def quick_chats(channel: str, request: pytest.FixtureRequest) -> None:
    """Each refusal is two messages; faster Telegram chats keep the scripts from waiting out flood
    limits (WeCom's per-member limit of 30 a minute is not reached here)."""
    if channel == TELEGRAM:
        emulator: Emulator = request.getfixturevalue("emulator")
        emulator.set_limits(per_chat_rate=20.0, per_chat_burst=40.0)


async def to_note(someone: Person, pupil: Student, language: str = "zh_CN") -> None:
    """/report → the pupil → yesterday → the first reason → no flags; leaves the note question open."""
    await someone.send("/report")
    await someone.choose(pupil.student_number[-4:])
    yesterday = t(language, "form.yesterday")
    await someone.choose(yesterday)
    reasons = await someone.expect(lambda s: len(s.buttons) > 3 and yesterday not in s.buttons)
    await someone.tap(reasons.buttons[0])
    await someone.choose(t(language, "form.done"))
    await someone.expect(lambda s: t(language, "form.skip") in s.buttons)


async def to_outcome_detail(someone: Person, case: Case) -> None:
    """/visit → the case → today → a home visit → no colleague → the guardian → "other"; leaves the
    question for a short description open."""
    await someone.send("/visit")
    await someone.choose(case.number)
    await someone.choose("今天")
    await someone.choose("入户家访")
    await someone.expect("自动记入")
    await someone.tap("完成")
    await someone.choose("监护人")
    await someone.expect(lambda s: "其他" in s.buttons)
    await someone.tap("其他")
    await someone.expect("简要说明情况")


def refused_then_asked_again(said: Said, refusal: str, question: str) -> bool:
    """The refusal comes alone and first, then the question again (however the channel splits it)."""
    return said.text.startswith(refusal + "\n") and question in said.text[len(refusal) :]


async def draft_text(services: Services, someone: Person) -> str:
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, someone.account, someone.channel))
        return json.dumps(draft.answers if draft else {}, ensure_ascii=False)


async def test_a_note_with_an_id_number_is_refused_then_a_clean_note_is_accepted(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    pupil = world.student_in(world.class_a)
    await to_note(teacher, pupil)
    await teacher.send(f"家长说孩子身份证号是 {ID_NUMBER}")
    again = await teacher.expect(lambda s: "跳过" in s.buttons)
    assert refused_then_asked_again(
        again, t("zh_CN", "form.note_has_identifiers"), t("zh_CN", "report.ask_note")
    )
    assert ID_NUMBER not in await draft_text(services, teacher)
    await teacher.send(f"父亲电话 {MOBILE}")  # a mobile in groups is refused the same way
    again = await teacher.expect(lambda s: "跳过" in s.buttons)
    assert refused_then_asked_again(
        again, t("zh_CN", "form.note_has_identifiers"), t("zh_CN", "report.ask_note")
    )
    await teacher.send("家长说孩子去外婆家了，学号 20260012，9 月 3 日返校")  # ordinary numbers pass
    summary = await teacher.expect("✅ 提交")
    assert "家长说孩子去外婆家了" in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("个案编号")
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
        assert case is not None and case.reason == "家长说孩子去外婆家了，学号 20260012，9 月 3 日返校"
        stored = json.dumps([e.data for e in await uow.cases.events(case.id)], ensure_ascii=False)
    assert ID_NUMBER not in stored and "0000 0001" not in stored


async def test_an_english_teacher_is_refused_in_english(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a", language_code="en")  # WeCom: English chosen with /language
    await to_note(teacher, world.student_in(world.class_a), "en")
    await teacher.send(f"Mother's phone: +86 {MOBILE}")
    again = await teacher.expect(lambda s: t("en", "form.skip") in s.buttons)
    assert refused_then_asked_again(again, t("en", "form.note_has_identifiers"), t("en", "report.ask_note"))
    assert "0000 0001" not in await draft_text(services, teacher)


async def test_an_outcome_detail_with_a_full_width_mobile_is_refused(
    person: PersonFactory, world: World, services: Services
) -> None:
    case = await open_case(services, world, world.student_in(world.class_a), services.clock.now())
    teacher = await person("teacher_a")
    await to_outcome_detail(teacher, case)
    await teacher.send("孩子随奶奶去了县城，奶奶电话１３８００００００01")
    again = await teacher.expect("简要说明情况")
    assert again.text.startswith(t("zh_CN", "form.text_has_identifiers") + "\n")
    assert "奶奶电话" not in await draft_text(services, teacher)
    await teacher.send("孩子随奶奶去了县城")
    await teacher.expect("家访照片")
    assert "孩子随奶奶去了县城" in await draft_text(services, teacher)
