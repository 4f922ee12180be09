"""A member's WeCom chat as the browser simulator shows it: what the member sent (kept here, as the
emulator keeps only the callbacks) and what the app sent them (the emulator's inbox), in the message
shape the simulator's page already renders for Telegram."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sandbox.wecom.state import AppState, Sent

BUTTONS_PER_ROW = 3


@dataclass
class Said:
    """One thing a member sent; `delivered` is None while the callback is still being posted."""

    at: float
    content: dict[str, Any]
    delivered: bool | None = None


@dataclass
class Transcripts:
    """What each member sent through the simulator, by userid."""

    said: dict[str, list[Said]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, userid: str, at: float, **content: Any) -> Said:
        said = Said(at, {"message_id": f"me-{next(self._ids)}", **content})
        self.said.setdefault(userid, []).append(said)
        return said

    def version(self, state: AppState, userid: str) -> int:
        """Grows with every change to the chat: a message either way, a delivery settled, a card updated."""
        mine = self.said.get(userid, [])
        settled = sum(s.delivered is not None for s in mine)
        return len(mine) + settled + len(state.inbox.get(userid, [])) + len(_updates(state, userid))

    def chat(self, state: AppState, userid: str, media_url: str) -> dict[str, Any]:
        """The whole chat, oldest first, with its version."""
        updates = _updates(state, userid)
        timeline: list[tuple[float, dict[str, Any]]] = [(s.at, _mine(s)) for s in self.said.get(userid, [])]
        for sent in state.inbox.get(userid, []):
            timeline.append((sent.at, _from_app(sent, state, media_url, updates)))
        timeline.sort(
            key=lambda item: item[0]
        )  # stable: the member's message before an answer of the same instant
        return {"version": self.version(state, userid), "messages": [m for _, m in timeline]}


def _updates(state: AppState, userid: str) -> dict[str, dict[str, Any]]:
    """The latest update_template_card of each of the member's cards, by task id."""
    return {u["task_id"]: u for u in state.card_updates if u.get("userid") == userid}


def _mine(said: Said) -> dict[str, Any]:
    message = {"from_bot": False, "date": int(said.at), **said.content}
    if said.delivered is False:
        message["undelivered"] = True
    return message


def _from_app(
    sent: Sent, state: AppState, media_url: str, updates: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": sent.msgid, "from_bot": True, "date": int(sent.at)}
    content = sent.body.get(sent.msgtype, {})
    if sent.msgtype == "text":
        message["text"] = str(content.get("content", ""))
    elif sent.msgtype == "template_card":
        message.update(_card(content, updates.get(str(content.get("task_id", "")))))
    elif sent.msgtype in ("file", "image"):
        media_id = str(content.get("media_id", ""))
        media = state.media.get(media_id)
        url = f"{media_url}/{media_id}"
        if sent.msgtype == "image":
            message["photo"] = [{"url": url}]
        else:
            message["document"] = {"url": url, "file_name": media.filename if media else media_id}
    else:
        message["text"] = f"[{sent.msgtype}]"
    return message


def _card(card: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    """A template card: its titles as text, its buttons as a keyboard until the app updates the card."""
    if update is not None and isinstance(update.get("template_card"), dict):
        card = update["template_card"]  # the app replaced the whole card
    main = card.get("main_title") or {}
    lines = [str(main.get(k)) for k in ("title", "desc") if main.get(k)]
    lines += [str(card[k]) for k in ("sub_title_text",) if card.get(k)]
    shown: dict[str, Any] = {"text": "\n".join(lines), "card": True}
    replaced = (update or {}).get("button") or {}
    if replaced:
        shown["card_answer"] = str(replaced.get("replace_name", ""))
        return shown
    labels = [{"text": str(b.get("text", ""))} for b in card.get("button_list", [])]
    if labels:
        rows = [labels[i : i + BUTTONS_PER_ROW] for i in range(0, len(labels), BUTTONS_PER_ROW)]
        shown["reply_markup"] = {"inline_keyboard": rows}
    return shown


def button_key(sent: Sent, label: str) -> str:
    """The key of the card's button with this label; KeyError when it has none."""
    card = sent.body.get("template_card", {})
    for button in card.get("button_list", []):
        if button.get("text") == label:
            return str(button.get("key", ""))
    raise KeyError(label)
