"""Flood limits (429 with retry_after, counters) and fault injection."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.limits import retry_after
from sandbox import Emulator
from sandbox.faults import FaultInjector
from sandbox.phone import Phone
from sandbox.state import BotState


async def send(
    http: httpx.AsyncClient, emulator: Emulator, bot: BotState, chat_id: int, text: str = "x"
) -> httpx.Response:
    return await http.post(
        f"{emulator.base_url}{bot.token}/sendMessage", json={"chat_id": chat_id, "text": text}
    )


async def flood(http: httpx.AsyncClient, emulator: Emulator, bot: BotState, chats: list[int]) -> list[dict]:
    responses = await asyncio.gather(*(send(http, emulator, bot, chat) for chat in chats))
    return [r.json() for r in responses]


async def test_flood_one_chat_gets_429s_and_counts_them(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.start()
    answers = await flood(http, emulator, bot, [phone.user_id] * 60)
    limited = [a for a in answers if not a["ok"]]
    assert limited, "a 60-message burst to one chat must hit the per-chat limit"
    for answer in limited:
        assert answer["error_code"] == 429
        assert answer["parameters"]["retry_after"] >= 1
        assert (
            answer["description"] == f"Too Many Requests: retry after {answer['parameters']['retry_after']}"
        )
    counters = emulator.stats()["too_many_requests"]
    assert counters["total"] == len(limited)
    assert counters["by_chat"] == {str(phone.user_id): len(limited)}
    assert counters["by_method"] == {"sendMessage": len(limited)}
    assert sum(a["ok"] for a in answers) >= 10  # the burst allowance went through


async def test_flood_across_chats_hits_the_bot_limit(
    emulator: Emulator, bot: BotState, http: httpx.AsyncClient
) -> None:
    users = []
    for index in range(40):
        user = emulator.create_user(first_name=f"P{index}")
        emulator.people.start(bot.id, user["id"])
        users.append(user["id"])
    answers = await flood(http, emulator, bot, users * 3)  # 3 per chat: under the per-chat burst
    limited = [a for a in answers if not a["ok"]]
    assert limited and all(a["error_code"] == 429 for a in limited)
    counters = emulator.stats()["too_many_requests"]
    assert counters["total"] == len(limited) == sum(counters["by_chat"].values())


async def test_no_429_with_limits_off(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.start()
    emulator.set_limits(enabled=False)
    answers = await flood(http, emulator, bot, [phone.user_id] * 60)
    assert all(a["ok"] for a in answers)
    assert emulator.stats()["too_many_requests"]["total"] == 0
    assert len(await phone.refresh()) == 60


async def test_limits_switch_through_control_api(emulator: Emulator, http: httpx.AsyncClient) -> None:
    response = await http.post(f"{emulator.control_url}/limits", json={"enabled": False, "per_chat_rate": 2})
    assert response.json()["result"]["enabled"] is False
    assert (await http.get(f"{emulator.control_url}/limits")).json()["result"]["per_chat_rate"] == 2.0
    stats = (await http.get(f"{emulator.control_url}/stats")).json()["result"]
    assert stats["too_many_requests"]["total"] == 0


async def test_ptb_sees_retry_after(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    await phone.start()
    emulator.set_limits(per_chat_burst=1, per_chat_rate=0.01)
    async with Bot(bot.token, base_url=emulator.base_url) as tg:
        await tg.send_message(phone.user_id, "one")
        with pytest.raises(RetryAfter, match=r"Retry in ") as limited:
            await tg.send_message(phone.user_id, "two")
        assert retry_after(limited.value) >= 1  # read as a timedelta: no deprecation warning


async def test_scripted_http_faults_then_recovery(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.start()
    emulator.inject_fault("sendMessage", "500", count=2)
    emulator.inject_fault("sendMessage", "502")
    statuses = [(await send(http, emulator, bot, phone.user_id)).status_code for _ in range(4)]
    assert statuses == [500, 500, 502, 200]
    emulator.inject_fault("sendmessage", "429", count=1, retry_after=7)
    limited = (await send(http, emulator, bot, phone.user_id)).json()
    assert limited["parameters"] == {"retry_after": 7}
    assert emulator.stats()["too_many_requests"]["total"] == 1
    assert emulator.stats()["faults"]["injected"] == {"500": 2, "502": 1, "429": 1}
    async with Bot(bot.token, base_url=emulator.base_url) as tg:
        emulator.inject_fault("*", "502")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await tg.send_message(phone.user_id, "x")
        emulator.inject_fault("sendMessage", "429", retry_after=3)
        with pytest.raises(RetryAfter):
            await tg.send_message(phone.user_id, "x")
        assert (await tg.send_message(phone.user_id, "after")).text == "after"


async def test_delay_and_dropped_connection(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.start()
    emulator.inject_fault("sendMessage", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await send(http, emulator, bot, phone.user_id)
    async with Bot(bot.token, base_url=emulator.base_url) as tg:
        emulator.inject_fault("getMe", "delay", delay=3.0)
        emulator.inject_fault("sendMessage", "drop")
        with pytest.raises(NetworkError):
            await tg.send_message(phone.user_id, "x")
        with pytest.raises(TimedOut):
            await tg.get_me(read_timeout=0.5)
        assert (await tg.get_me()).username == bot.username  # the next call is normal again
    emulator.inject_fault("getMe", "delay", delay=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await http.get(f"{emulator.base_url}{bot.token}/getMe")
    assert response.json()["ok"] and loop.time() - started >= 0.3


async def test_random_failures_are_seedable(
    emulator: Emulator, bot: BotState, http: httpx.AsyncClient
) -> None:
    def sequence(seed: int) -> list[str | None]:
        injector = FaultInjector()
        injector.set_random(0.2, seed=seed)
        return [(f.kind if (f := injector.next_fault("sendMessage")) else None) for _ in range(200)]

    first = sequence(42)
    assert first == sequence(42) and first != sequence(43)
    failed = [k for k in first if k]
    assert 15 <= len(failed) <= 70 and set(failed) <= {"429", "500", "timeout"}

    emulator.set_random_failures(0.5, seed=1, kinds={"500": 1.0}, methods=["getMe"])
    statuses = [(await http.get(f"{emulator.base_url}{bot.token}/getMe")).status_code for _ in range(20)]
    assert 500 in statuses and 200 in statuses
    assert emulator.stats()["faults"]["injected"]["500"] == statuses.count(500)
    emulator.faults.clear()
    assert (await http.get(f"{emulator.base_url}{bot.token}/getMe")).status_code == 200
