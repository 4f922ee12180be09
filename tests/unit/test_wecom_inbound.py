"""Stored WeCom callbacks: the update id that deduplicates them, and the typed message read back."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.wecom.inbound import CardTap, Location, OtherEvent, Unsupported, typed, update_id_of

TAP = {
    "FromUserName": "zhangsan",
    "CreateTime": "1791853200",
    "MsgType": "event",
    "Event": "template_card_event",
    "EventKey": "yes",
    "TaskId": "case-7",
    "ResponseCode": "rc1",
}


def test_a_message_is_keyed_by_its_msgid() -> None:
    assert update_id_of({"MsgId": "7001", "FromUserName": "zhangsan"}) == 7001


def test_an_event_key_is_stable_within_63_bits_and_differs_per_card() -> None:
    key = update_id_of(TAP)
    assert key == update_id_of(dict(TAP, ResponseCode="another delivery"))
    assert 0 <= key < 2**63
    assert key != update_id_of(TAP | {"TaskId": "case-8"})
    assert key != update_id_of(TAP | {"CreateTime": "1791853201"})


def test_a_msgid_beyond_the_column_is_hashed_instead() -> None:
    assert 0 <= update_id_of({"MsgId": str(2**64 - 1)}) < 2**63


def test_a_tap_reads_back_as_a_card_tap() -> None:
    sent_at = datetime.fromtimestamp(1791853200, UTC)
    assert typed(TAP) == CardTap("zhangsan", sent_at, task_id="case-7", event_key="yes", response_code="rc1")


def test_a_location_out_of_range_is_not_a_location() -> None:
    place = {
        "FromUserName": "z",
        "CreateTime": "1",
        "MsgType": "location",
        "Location_X": "123",
        "Location_Y": "1",
    }
    assert isinstance(typed(place), Unsupported)
    assert isinstance(typed(place | {"Location_X": "23.1"}), Location)


def test_unknown_events_and_messages_are_kept_apart() -> None:
    assert typed({"MsgType": "event", "Event": "click"}) == OtherEvent(
        "", datetime.fromtimestamp(0, UTC), "click"
    )
    assert isinstance(typed({"MsgType": "voice"}), Unsupported)
