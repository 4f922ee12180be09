"""Scripted people: the steps of each conversation as (action, what the reply looks like), and a patient
human who re-sends an answer when no reply comes back."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.identity import mask_name
from sandbox.phone import Phone
from storage.models import Student

Message = dict[str, Any]
Action = Callable[[Phone], Awaitable[object]]
Expect = Callable[[Message], bool]


def buttons(message: Message) -> list[str]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b["text"] if isinstance(b, dict) else str(b) for row in rows for b in row]


@dataclass(frozen=True)
class Step:
    name: str
    action: Action
    expect: Expect


def tap(label: str) -> Action:
    return lambda phone: phone.tap(label)


def send(text: str) -> Action:
    return lambda phone: phone.send(text)


def pick_pupil(pupil: Student) -> Action:
    """Taps the pupil's button (masked name and the last four digits of the student number)."""

    async def act(phone: Phone) -> object:
        ask = next(m for m in reversed(phone.messages) if buttons(m) and not m["deleted"])
        label = next(b for b in buttons(ask)
                     if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b)
        return await phone.tap(label)

    return act


def report_steps(pupil: Student) -> list[Step]:
    """A full /report in Chinese; "yesterday" keeps it independent of the real date."""
    return [
        Step("command", send("/report"), lambda m: bool(buttons(m)) and "报告缺勤" in m["text"]),
        Step("student", pick_pupil(pupil), lambda m: "昨天" in buttons(m)),
        Step("absent_since", tap("昨天"), lambda m: "暂不清楚" in buttons(m)),
        Step("reason", tap("暂不清楚"), lambda m: "完成" in buttons(m)),
        Step("flags_toggle", tap("▫️ 孤儿"), lambda m: "✅ 孤儿" in buttons(m)),
        Step("flags_done", tap("完成"), lambda m: "跳过" in buttons(m)),
        Step("note", tap("跳过"), lambda m: "✅ 提交" in buttons(m)),
        Step("submit", tap("✅ 提交"), lambda m: "个案编号" in m["text"]),
    ]


async def bind(phone: Phone, code: str, timeout: float = 30.0) -> None:
    await phone.start(code)
    await phone.wait_for_reply(lambda m: "绑定成功" in m["text"] or "linked" in m["text"], timeout=timeout)


async def walk(phone: Phone, steps: list[Step], timeout: float = 20.0) -> None:
    for step in steps:
        await step.action(phone)
        await phone.wait_for_reply(step.expect, timeout=timeout)


async def seen(phone: Phone, expect: Expect, since: int) -> bool:
    """Whether a bot message matching `expect` arrived after message id `since` (late replies count)."""
    return any(m["message_id"] > since and not m["deleted"] and expect(m) for m in await phone.refresh())


@dataclass
class Patience:
    """How a patient person behaves: how long they wait, how often they re-send before starting over."""

    wait: float = 12.0
    resends: int = 2
    retried: int = 0
    restarted: int = 0


async def newest_id(phone: Phone) -> int:
    messages = await phone.refresh()
    return max((m["message_id"] for m in messages), default=0)


async def attempt(phone: Phone, step: Step, patience: Patience) -> bool:
    """Does the step; re-sends the same answer if nothing came back in time. False if still nothing."""
    since = await newest_id(phone)
    for round_ in range(1 + patience.resends):
        if round_:
            patience.retried += 1
        with contextlib.suppress(Exception):  # the button is gone (a late reply replaced it): look again
            await step.action(phone)
        try:
            await phone.wait_for_reply(step.expect, timeout=patience.wait)
            return True
        except TimeoutError:
            if await seen(phone, step.expect, since):
                return True
    return False
