"""Reply markup checks (inline and reply keyboards) and text helpers (UTF-16 lengths, entities)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import bad_request

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "web_app",
)
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
MAX_TEXT = 4096
MAX_CAPTION = 1024


def utf16_len(text: str) -> int:
    """Return the length of text in UTF-16 code units, the unit Telegram uses for offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    """Return bot_command entities for every /command in text, offsets in UTF-16 units."""
    entities = []
    for match in _COMMAND_RE.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities


def check_text(text: str, *, caption: bool = False) -> None:
    """Reject empty or over-long text the way Telegram does."""
    if caption:
        if utf16_len(text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")


def parse_markup(markup: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    """Validate a bot's reply_markup; return its kind and a normalised copy."""
    if markup is None:
        return None, None
    if "inline_keyboard" in markup:
        return "inline", {"inline_keyboard": _rows(markup["inline_keyboard"], _inline_button)}
    if "keyboard" in markup:
        normalised = dict(markup)
        normalised["keyboard"] = _rows(markup["keyboard"], _reply_button)
        return "reply", normalised
    if markup.get("remove_keyboard"):
        return "remove", dict(markup)
    if markup.get("force_reply"):
        return "force", dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def _rows(rows: Any, check: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return [[check(button) for button in row] for row in rows]


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not button["text"]:
        raise bad_request("inline keyboard button text is empty")  # wording approximated
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
        raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")
    return dict(button)


def _reply_button(button: Any) -> dict[str, Any]:
    if isinstance(button, str):
        button = {"text": button}
    if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    return dict(button)


def find_inline_button(markup: dict[str, Any] | None, label: str) -> dict[str, Any] | None:
    """Return the inline button with this label, if the markup has one."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("text") == label:
                return button
    return None


def find_reply_button(markup: dict[str, Any] | None, label: str) -> dict[str, Any] | None:
    """Return the reply-keyboard button with this label, if the keyboard has one."""
    for row in (markup or {}).get("keyboard", []):
        for button in row:
            if button.get("text") == label:
                return button
    return None
