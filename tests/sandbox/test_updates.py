"""getUpdates semantics (offset, limit, long polling, allowed_updates, conflicts) and webhook state."""

from __future__ import annotations

import asyncio

import httpx

from sandbox import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState


async def api(
    http: httpx.AsyncClient, emulator: Emulator, bot: BotState, method: str, **params: object
) -> dict:
    response = await http.post(f"{emulator.base_url}{bot.token}/{method}", json=params)
    return response.json()


async def test_offset_limit_and_monotonic_ids(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    for text in ("one", "two", "three"):
        await phone.send(text)
    first = (await api(http, emulator, bot, "getUpdates", limit=2))["result"]
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    ids = [u["update_id"] for u in first]
    assert ids[1] == ids[0] + 1
    again = (await api(http, emulator, bot, "getUpdates"))["result"]
    assert len(again) == 3  # nothing confirmed yet
    rest = (await api(http, emulator, bot, "getUpdates", offset=ids[1] + 1))["result"]
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert (await api(http, emulator, bot, "getUpdates", offset=rest[0]["update_id"] + 1))["result"] == []
    await phone.send("four")
    latest = (await api(http, emulator, bot, "getUpdates", offset=-1))["result"]
    assert latest[0]["update_id"] > rest[0]["update_id"]


async def test_long_poll_wakes_on_update(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    poll = asyncio.create_task(api(http, emulator, bot, "getUpdates", timeout=20))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await phone.send("wake up")
    result = await asyncio.wait_for(poll, timeout=10)
    assert result["result"][0]["message"]["text"] == "wake up"


async def test_second_poller_conflicts_first(
    emulator: Emulator, bot: BotState, http: httpx.AsyncClient
) -> None:
    first = asyncio.create_task(api(http, emulator, bot, "getUpdates", timeout=20))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(api(http, emulator, bot, "getUpdates", timeout=1))
    answer = await asyncio.wait_for(first, timeout=10)
    assert answer["error_code"] == 409 and "terminated by other getUpdates request" in answer["description"]
    assert (await asyncio.wait_for(second, timeout=10))["result"] == []


async def test_allowed_updates_filters_new_updates(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await api(http, emulator, bot, "getUpdates", allowed_updates=["callback_query"])
    await phone.send("ignored")
    assert (await api(http, emulator, bot, "getUpdates"))["result"] == []
    await api(http, emulator, bot, "getUpdates", allowed_updates=[])
    await phone.send("seen")
    assert [u["message"]["text"] for u in (await api(http, emulator, bot, "getUpdates"))["result"]] == [
        "seen"
    ]


async def test_webhook_blocks_polling_and_reports_state(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.send("queued")
    bad = await api(http, emulator, bot, "setWebhook", url="https://example.org/hook")
    assert bad["error_code"] == 400 and "bad webhook" in bad["description"]
    bad = await api(
        http, emulator, bot, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="no spaces"
    )
    assert bad["description"] == "Bad Request: secret token contains unallowed characters"
    # Port 9 (discard) has no listener here, so delivery fails and the error is reported.
    assert (await api(http, emulator, bot, "setWebhook", url="http://127.0.0.1:9/hook"))["result"] is True
    conflict = await api(http, emulator, bot, "getUpdates")
    assert conflict["error_code"] == 409 and "webhook is active" in conflict["description"]
    info = {}
    for _ in range(100):  # bounded: up to ~10 s for the first failed attempt
        info = (await api(http, emulator, bot, "getWebhookInfo"))["result"]
        if "last_error_message" in info:
            break
        await asyncio.sleep(0.1)
    assert info["url"] == "http://127.0.0.1:9/hook" and info["pending_update_count"] == 1
    assert info["last_error_message"] == "Connection refused"
    assert (await api(http, emulator, bot, "deleteWebhook", drop_pending_updates=True))["result"] is True
    info = (await api(http, emulator, bot, "getWebhookInfo"))["result"]
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


async def test_redelivered_update_comes_again_with_the_same_id(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.send("once")
    first = (await api(http, emulator, bot, "getUpdates"))["result"]
    update_id = first[0]["update_id"]
    assert (await api(http, emulator, bot, "getUpdates", offset=update_id + 1))["result"] == []
    await phone.redeliver(update_id)
    again = (await api(http, emulator, bot, "getUpdates", offset=update_id + 1))["result"]
    assert [u["update_id"] for u in again] == [update_id]
    assert again[0]["message"]["text"] == "once"


async def test_a_tampered_client_can_send_any_callback_data(
    emulator: Emulator, bot: BotState, phone: Phone, http: httpx.AsyncClient
) -> None:
    await phone.send("hi")
    sent = await api(
        http,
        emulator,
        bot,
        "sendMessage",
        chat_id=phone.user_id,
        text="pick",
        reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    )
    await phone.press_callback(sent["result"]["message_id"], "forged:123")
    updates = (await api(http, emulator, bot, "getUpdates"))["result"]
    assert updates[-1]["callback_query"]["data"] == "forged:123"
