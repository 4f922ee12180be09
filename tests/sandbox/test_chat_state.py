"""The emulator's chat state: what a phone's wait returns after the version it saw."""

from __future__ import annotations

from sandbox.state import Chat

PERSON = {"id": 700001, "is_bot": False, "first_name": "Test"}
BOT = {"id": 1, "is_bot": True, "first_name": "Bot"}


def test_changed_since_returns_new_and_edited_messages_in_id_order() -> None:
    chat = Chat(user=PERSON)
    first = chat.add_message(PERSON, {"text": "one"}, from_bot=False)
    second = chat.add_message(BOT, {"text": "two"}, from_bot=True)
    seen = chat.notifier.version
    assert chat.changed_since(seen) == []

    third = chat.add_message(BOT, {"text": "three"}, from_bot=True)
    first.data["text"] = "one, edited"
    chat.touch(first)  # an edit moves an old message past the version a phone saw

    assert chat.changed_since(seen) == [first, third]
    assert chat.changed_since(0) == [first, second, third]
    assert chat.changed_since(chat.notifier.version) == []
