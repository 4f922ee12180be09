"""Scripted people: the steps of each conversation as (action, what the reply looks like), and a patient
human who re-sends an answer when no reply comes back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.privacy.identity import mask_name
from sandbox.phone import Phone
from storage.models import Student

log = logging.getLogger(__name__)
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
        label = next(
            b for b in buttons(ask) if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b
        )
        return await phone.tap(label)

    return act


def typed_yesterday() -> str:
    """Yesterday in Beijing as a teacher would type it (the date step also takes typed dates)."""
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)).isoformat()


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
    """Whether a bot message matching `expect` was sent or edited after chat version `since`."""
    return any(m["version"] > since and not m["deleted"] and expect(m) for m in await phone.refresh())


@dataclass
class Patience:
    """How a patient person behaves: how long they wait, how often they re-send before starting over."""

    wait: float = 10.0
    resends: int = 2
    retried: int = 0
    told_to_retry: int = 0
    stuck: int = 0
    restarted: int = 0


async def chat_version(phone: Phone) -> int:
    await phone.refresh()
    return int(phone.chat["version"])


TRY_AGAIN = ("没有保存", "was not saved", "出了点问题", "went wrong")
STUCK = ("已过时", "已结束", "out of date", "has ended")  # the toasts of a stale or finished form's button


def says_try_again(message: Message) -> bool:
    return any(words in message["text"] for words in TRY_AGAIN)


def _stuck(phone: Phone, answers_before: int) -> bool:
    return any(
        any(words in (a.get("text") or "") for words in STUCK)
        for a in phone.callback_answers[answers_before:]
    )


async def _outcome(phone: Phone, step: Step, since: int, answers_before: int, wait: float) -> str:
    """done (the expected reply came), retry (told to try again, or silence), or stuck (a stale toast)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        try:
            reply = await phone.wait_for_reply(lambda m: step.expect(m) or says_try_again(m), timeout=1.0)
        except TimeoutError:
            if _stuck(phone, answers_before):
                return "done" if await seen(phone, step.expect, since) else "stuck"
            continue
        if step.expect(reply) or await seen(phone, step.expect, since):
            return "done"
        return "retry"
    return "done" if await seen(phone, step.expect, since) else "retry"


async def attempt(phone: Phone, step: Step, patience: Patience) -> bool:
    """Does the step; re-sends the same answer when told to try again or when nothing came back in time.
    False when that does not help (e.g. the reply was lost and the old button is now stale)."""
    since = await chat_version(phone)
    answers_before = len(phone.callback_answers)
    for round_ in range(1 + patience.resends):
        if round_:
            patience.retried += 1
        with contextlib.suppress(Exception):  # the button is gone (a late reply replaced it): look again
            await step.action(phone)
        outcome = await _outcome(phone, step, since, answers_before, patience.wait)
        if outcome == "done":
            return True
        if outcome == "stuck":
            patience.stuck += 1
            log.info("chat %s stuck at %s", phone.user_id, step.name)
            return False
        log.info("chat %s: no answer to %s (round %d)", phone.user_id, step.name, round_)
        patience.told_to_retry += 1
    return False


async def listed_in_mycases(phone: Phone, pupil: Student, timeout: float = 15.0, tries: int = 3) -> bool:
    """What a careful teacher does before reporting again: look for the pupil among open cases."""
    for _ in range(tries):
        await phone.send("/mycases")
        try:
            listing = await phone.wait_for_reply(lambda m: "在办个案" in m["text"], timeout=timeout)
        except TimeoutError:
            continue
        return (
            f"{mask_name(pupil.name)} · " in listing["text"] and pupil.student_number[-4:] in listing["text"]
        )
    raise TimeoutError("/mycases never answered")


async def report_patiently(phone: Phone, pupil: Student, patience: Patience, rounds: int = 6) -> None:
    """Files one /report like a person on a bad line: re-sends, and when stuck checks, then starts over."""
    for _ in range(rounds):
        for step in report_steps(pupil):
            if not await attempt(phone, step, patience):
                break
        else:
            return
        log.info(
            "chat %s restarts /report; last: %s",
            phone.user_id,
            (phone.last_message or {}).get("text", "")[:40],
        )
        if await listed_in_mycases(phone, pupil):
            return  # the submit went through; only its confirmation was lost
        patience.restarted += 1
    raise AssertionError(f"could not file the report for pupil {pupil.id} in {rounds} rounds")


def case_button(number: str) -> Action:
    async def act(phone: Phone) -> object:
        ask = next(m for m in reversed(phone.messages) if buttons(m) and not m["deleted"])
        return await phone.tap(next(b for b in buttons(ask) if number in b))

    return act


def visit_steps(number: str, photo: bytes) -> list[Step]:
    """A /visit of case `number`: today, at home, alone, met the guardian, refused (the first visit: no
    notice yet), one photo, location shared, no follow-up date, a note, submit."""
    return [
        Step("command", send("/visit"), lambda m: any(number in b for b in buttons(m))),
        Step("case", case_button(number), lambda m: "今天" in buttons(m)),
        Step("visited_on", tap("今天"), lambda m: "到校约谈" in buttons(m)),
        Step("mode", tap("入户家访"), lambda m: "完成" in buttons(m) and "自动记入" in m["text"]),
        Step("visitors", tap("完成"), lambda m: "无人应答" in buttons(m)),
        Step("met", tap("监护人"), lambda m: "拒绝返校" in buttons(m)),
        Step("outcome", tap("拒绝返校"), lambda m: "家访照片" in m["text"]),
        Step("photo", lambda p: p.send_photo(photo), lambda m: "已收到 1/5" in m["text"]),
        Step("photos_done", tap("完成"), lambda m: "位置" in m["text"]),
        Step(
            "location",
            lambda p: p.tap("📍 发送当前位置", location=(29.5630123, 106.5515567)),
            lambda m: "跳过" in buttons(m) and "下次跟进" in m["text"],
        ),
        Step("follow_up", tap("跳过"), lambda m: "跳过" in buttons(m) and "补充" in m["text"]),
        Step("note", send("家长态度坚决"), lambda m: "✅ 提交" in buttons(m)),
        Step("submit", tap("✅ 提交"), lambda m: "家访已记录" in m["text"]),
    ]


def return_steps(number: str) -> list[Step]:
    """A /return of case `number`: today, seen in class, back at the same school, record restored, no
    support measure, no photo, submit."""
    return [
        Step("command", send("/return"), lambda m: any(number in b for b in buttons(m))),
        Step("case", case_button(number), lambda m: "今天" in buttons(m)),
        Step("returned_on", tap("今天"), lambda m: "本人在课堂上见到" in buttons(m)),
        Step("method", tap("本人在课堂上见到"), lambda m: "是，原学校原班级" in buttons(m)),
        Step("same_place", tap("是，原学校原班级"), lambda m: "尚未恢复" in buttons(m)),
        Step("record", tap("已恢复"), lambda m: "保学措施" in m["text"]),
        Step("measures", tap("完成"), lambda m: "跳过" in buttons(m) and "照片" in m["text"]),
        Step("photos", tap("跳过"), lambda m: "✅ 提交" in buttons(m)),
        Step("submit", tap("✅ 提交"), lambda m: "已确认返校" in m["text"]),
    ]
