"""WeCom's side of the forms, as pure functions: stored messages become inputs (commands with or without
the slash, taps decoded like Telegram's callback data), prompts become text and button cards."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.conversations.engine import Outcome
from bot.conversations.model import Choice, Command, Location, Photo, Prompt, Tap, Text, Unsupported
from bot.wecom import inbound
from bot.wecom.cards import MAX_BUTTONS
from bot.wecom.inputs import to_input
from bot.wecom.prompts import CardOut, TextOut, messages_for

AT = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)


def keys(out: CardOut) -> list[str]:
    return [b["key"] for b in out.card["button_list"]]


def test_commands_are_read_with_or_without_their_slash() -> None:
    assert to_input(inbound.Text("u", AT, "/report")) == Command("report")
    assert to_input(inbound.Text("u", AT, " Visit ")) == Command("visit")
    assert to_input(inbound.Text("u", AT, "/start abc12345")) == Command("start", ("abc12345",))
    assert to_input(inbound.Text("u", AT, "report him")) == Text("report him")


def test_taps_decode_like_telegram_callback_data() -> None:
    assert to_input(inbound.CardTap("u", AT, "t1", "f:4:17", "rc")) == Tap(4, "17")
    assert to_input(inbound.CardTap("u", AT, "t1", "go:visit:9", "rc")) == Command("visit", ("9",))
    assert to_input(inbound.CardTap("u", AT, "t1", "forged", "rc")) == Tap(-1, "")
    assert to_input(inbound.CardTap("u", AT, "t1", "kb:跳过", "rc")) == Text("跳过")


def test_photos_locations_and_other_messages() -> None:
    assert to_input(inbound.Image("u", AT, "m1")) == Photo("m1", "m1", None, "image/jpeg")
    assert to_input(inbound.Location("u", AT, 23.1, 113.3, "")) == Location(23.1, 113.3)
    assert to_input(inbound.Unsupported("u", AT, "voice")) == Unsupported("voice")
    assert to_input(inbound.Unsupported("u", AT, "file")) == Unsupported("document")
    assert to_input(inbound.Enter("u", AT)) is None


def test_a_short_question_with_few_choices_is_one_card_keyed_like_telegram() -> None:
    prompt = Prompt("从哪天开始缺勤？", [[Choice("today", "今天"), Choice("yesterday", "昨天")]])
    [card] = messages_for(Outcome([prompt], seq=3), "zh_CN")
    assert isinstance(card, CardOut)
    assert card.card["main_title"]["title"] == "从哪天开始缺勤？"
    assert keys(card) == ["f:3:today", "f:3:yesterday"]


def test_many_choices_go_on_several_cards_after_the_question() -> None:
    choices = [[Choice(str(n), f"学生{n}")] for n in range(MAX_BUTTONS + 2)]
    out = messages_for(Outcome([Prompt("（1/5）报告缺勤：选择学生。\n可以搜索。", choices)], seq=1), "zh_CN")
    assert isinstance(out[0], TextOut) and "选择学生" in out[0].text
    cards = [o for o in out[1:] if isinstance(o, CardOut)]
    assert [len(keys(c)) for c in cards] == [MAX_BUTTONS, 2]
    assert len({c.card["task_id"] for c in cards}) == 2  # unique per app


def test_a_location_request_explains_how_and_offers_its_keys_as_buttons() -> None:
    prompt = Prompt("请发送位置。", request_location="📍 发送当前位置", extra_keys=["跳过"])
    out = messages_for(Outcome([prompt], seq=2, toast="已过期"), "zh_CN")
    assert isinstance(out[0], TextOut) and out[0].text == "已过期"  # no toasts on WeCom
    card = out[-1]
    assert isinstance(card, CardOut) and keys(card) == ["kb:跳过"]
    assert any(isinstance(o, TextOut) and "位置" in o.text and "＋" in o.text for o in out)
