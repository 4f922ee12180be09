"""A number typed on WeCom: the n-th choice on a choice step, the text it is anywhere else; the cards
number a list's choices when it does not fit one card."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.conversations.engine import Outcome
from bot.conversations.model import Choice, Command, Numbered, Prompt, Text
from bot.conversations.steps import NAV_PREFIX
from bot.wecom import inbound
from bot.wecom.cards import MAX_BUTTONS
from bot.wecom.inputs import to_input
from bot.wecom.prompts import CardOut, TextOut, messages_for
from i18n import t
from tests.unit.test_engine import Chat

AT = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)


def typed(content: str) -> object:
    return to_input(inbound.Text("u", AT, content))


def test_a_bare_number_is_numbered_and_anything_else_stays_text() -> None:
    assert typed("3") == Numbered("3") and typed(" 12 ") == Numbered("12")
    assert typed("３") == Numbered("3")  # full-width, from a Chinese keyboard
    assert typed("1234") == Text("1234")  # too long for a choice: e.g. a number tail searched
    assert typed("3个") == Text("3个") and typed("9.3") == Text("9.3") and typed("-1") == Text("-1")
    assert isinstance(typed("3"), Text)  # so a free-text or date step, or an invite code, reads it as text


async def test_a_number_on_a_choice_step_picks_that_choice() -> None:
    chat = Chat({})
    await chat.send(Command("report"))
    assert chat.draft.step == "reason"
    outcome = await chat.send(Numbered("2"))  # the choices are Ill, Gone to work
    assert chat.draft.step == "note" and chat.draft.answers["reason"] == "work", outcome


async def test_a_number_beyond_the_choices_is_refused_and_changes_nothing() -> None:
    chat = Chat({})
    await chat.send(Command("report"))
    seq = chat.draft.seq
    for number in ("3", "0"):
        outcome = await chat.send(Numbered(number))
        assert outcome.prompts[0].text == t("en", "form.no_such_number", number=int(number))
    assert (chat.draft.step, chat.draft.seq) == ("reason", seq)


async def test_a_number_on_a_free_text_step_is_the_text() -> None:
    chat = Chat({})
    await chat.send(Command("report"))
    await chat.tap("ill")
    await chat.send(Numbered("3"))
    assert chat.draft.step == "confirm" and chat.draft.answers["note"] == "3"


def card_labels(out: list[TextOut | CardOut]) -> list[str]:
    return [str(b["text"]) for o in out if isinstance(o, CardOut) for b in o.card["button_list"]]


def test_a_list_longer_than_a_card_is_numbered_page_turns_aside() -> None:
    pupils = [[Choice(str(n), f"学生{n}")] for n in range(8)]
    nav = [[Choice(f"{NAV_PREFIX}noop", "1/5"), Choice(f"{NAV_PREFIX}p1", "▶")]]
    out = messages_for(Outcome([Prompt("选择学生。", pupils + nav)], seq=1), "zh_CN")
    assert isinstance(out[0], TextOut) and t("zh_CN", "wecom.type_number_hint") in out[0].text
    assert card_labels(out) == [f"{n + 1}. 学生{n}" for n in range(8)] + ["1/5", "▶"]


def test_a_list_that_fits_one_card_is_not_numbered() -> None:
    choices = [[Choice(str(n), f"原因{n}")] for n in range(MAX_BUTTONS)]
    out = messages_for(Outcome([Prompt("原因？", choices)], seq=1), "zh_CN")
    assert card_labels(out) == [f"原因{n}" for n in range(MAX_BUTTONS)]
    assert not any(isinstance(o, TextOut) and t("zh_CN", "wecom.type_number_hint") in o.text for o in out)
