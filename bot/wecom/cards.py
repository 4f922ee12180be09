"""Template cards (模板卡片) as message/send takes them: a button card for a step's choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_BUTTONS = 6  # button_interaction shows at most six buttons


def button_card(
    task_id: str, title: str, buttons: Sequence[tuple[str, str]], desc: str = ""
) -> dict[str, Any]:
    """A button_interaction card; `buttons` are (key, label) pairs, the key coming back in the tap event."""
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise ValueError(f"a button card holds 1 to {MAX_BUTTONS} buttons, not {len(buttons)}")
    main_title = {"title": title} | ({"desc": desc} if desc else {})
    return {
        "card_type": "button_interaction",
        "main_title": main_title,
        "task_id": task_id,
        "button_list": [{"text": label, "style": 1, "key": key} for key, label in buttons],
    }
