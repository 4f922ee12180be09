"""A long list on WeCom, on SQLite and PostgreSQL: a class of 40 pupils comes as several cards whose
choices are numbered, and the member may type a number instead of scrolling to the button, or a fragment
of a name to search; a number typed where a date or free text is asked stays what it is."""

from __future__ import annotations

from datetime import date, timedelta

from app.container import Services
from bot.wecom.inbound import CHANNEL
from domain.clock import FixedClock
from i18n import t
from sandbox.wecom import WeComEmulator
from storage.models import Student
from tests.e2e.conftest import invite_code, wecom_handled
from tests.factories import World
from tests.wecom_chat import Chat, labels, unnumbered

USERID = "long_list"
PUPILS = 40


async def more_pupils(services: Services, world: World) -> None:
    """Class A grows to PUPILS pupils; one of them has a name nobody else's contains."""
    async with services.uow() as uow:
        for n in range(PUPILS - sum(s.class_id == world.class_a.id for s in world.students)):
            uow.session.add(
                Student(
                    student_number=f"L2026{900 + n:08d}",
                    name="欧阳娜娜" if n == 17 else f"钱{n:02d}",
                    sex="F",
                    birth_date=date(2015, 3, 1),
                    school_id=world.school.id,
                    class_id=world.class_a.id,
                    home_village_id=world.village_a.id,
                    guardian_name="测试家长",
                    guardian_relation="母亲",
                    guardian_phone=f"1370000{n:04d}",
                )
            )
        await uow.commit()


def button(chat: Chat, starting: str) -> tuple[str, str]:
    """(label, value) of the button on the cards since the last action whose label starts so."""
    for sent in chat.since:
        for b in sent.body.get("template_card", {}).get("button_list", []):
            if str(b["text"]).startswith(starting):
                return str(b["text"]), str(b["key"]).split(":", 2)[2]
    raise AssertionError(f"no button {starting!r} in {[b for s in chat.since for b in labels(s)]}")


async def answers(services: Services) -> tuple[str, dict[str, object]]:
    async with services.uow() as uow:
        account = await uow.directory.account(CHANNEL, USERID)
        assert account is not None
        draft = await uow.drafts.get(account.id)
        assert draft is not None
        return draft.step, dict(draft.answers)


async def test_a_typed_number_picks_that_choice_and_a_typed_name_searches(
    services: Services, world: World, clock: FixedClock, wecom_emu: WeComEmulator, wecom_server: str
) -> None:
    await more_pupils(services, world)
    chat = Chat(wecom_emu.add_member(USERID), lambda: clock.advance(timedelta(seconds=1)))
    await chat.send(await invite_code(services, world.staff["teacher_a"].id))
    await chat.wait_for("绑定成功")

    async def say(text: str) -> None:  # once the last answer has come whole (a text, then its cards)
        await wecom_handled(services)
        await chat.send(text)

    async def settled_tap(label: str) -> None:
        await wecom_handled(services)
        await chat.tap(label)

    # The class comes as several cards, its pupils numbered; page turns are not.
    await say("report")
    await chat.wait_for("▶")
    await wecom_handled(services)
    shown = [b for s in chat.since for b in labels(s)]
    assert len(shown) > 6 and t("zh_CN", "wecom.type_number_hint") in chat.text()
    assert [b.split(". ")[0] for b in shown if b != unnumbered(b)] == [str(n) for n in range(1, 9)]
    assert any(b.startswith("▶") for b in shown) and "1/5" in shown
    third, third_pupil = button(chat, "3. ")

    # A number picks the pupil numbered so; a number beyond the list is refused and changes nothing.
    await say("3")
    await chat.wait_for("今天")
    step, given = await answers(services)
    assert (step, given["student"]) == ("absent_since", third_pupil), third

    # On the date a bare number is no date (as before); a date typed as people say it is one.
    await say("3")
    await chat.wait_for(t("zh_CN", "form.date_unreadable"))
    assert (await answers(services))[0] == "absent_since"
    await say("昨天")
    await chat.wait_for("暂不清楚")
    await wecom_handled(services)

    # Five reasons fit one card, unnumbered: the second button is still choice 2.
    second, reason = button(chat, [b for s in chat.since for b in labels(s)][1])
    await say("99")
    await chat.wait_for(t("zh_CN", "form.no_such_number", number=99))
    assert (await answers(services))[0] == "reason"
    await say("２")  # full-width, as a Chinese keyboard may type it
    await chat.wait_for("完成")
    step, given = await answers(services)
    assert (step, given["reason"]) == ("flags", reason), second

    # The key groups (more than a card): a number toggles that group; Done is not numbered.
    await wecom_handled(services)
    label, group = button(chat, "3. ")
    done, _ = button(chat, "完成")
    assert "▫️" in label and done == unnumbered(done)
    await say("3")
    await chat.wait_for("3. ✅")
    step, given = await answers(services)
    assert (step, given["flags"]) == ("flags", [group])
    await settled_tap("完成")

    # The note is free text: a number stays the note.
    await chat.wait_for("跳过")
    await say("3")
    await chat.wait_for("✅ 提交")
    step, given = await answers(services)
    assert step == "confirm" and given["note"] == "3"
    await say("/cancel")
    await chat.wait_for("取消")

    # A fragment of a name searches the pupils' real names; the number then counts in the results.
    await say("report")
    await chat.wait_for("▶")
    await say("娜娜")
    await chat.wait_for("欧**娜")
    await wecom_handled(services)
    found = [b for s in chat.since for b in labels(s) if "*" in b]
    assert len(found) == 1
    await say("1")
    await chat.wait_for("今天")
    async with services.uow() as uow:
        pupil = await uow.students.get(int(str((await answers(services))[1]["student"])))
    assert pupil is not None and pupil.name == "欧阳娜娜"
