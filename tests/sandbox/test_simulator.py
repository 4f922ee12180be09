"""The simulator router's JSON API, driven over ASGI with a real bot behind the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from sandbox import Emulator
from sandbox.files import make_test_image
from sandbox.state import BotState
from tests.sandbox.conftest import polling_app
from tests.sandbox.simulator_app import HELLO_HANDLERS, make_app


async def wait_chat(
    client: httpx.AsyncClient, uid: int, predicate: Callable[[dict], bool], tries: int = 100
) -> dict:
    chat: dict = {}
    for _ in range(tries):  # bounded: ~10 s
        chat = (await client.get(f"/simulator/api/chat/{uid}")).json()
        if predicate(chat):
            return chat
        await asyncio.sleep(0.1)
    raise AssertionError(f"chat never matched: {chat}")


async def test_simulator_api_flow(emulator: Emulator, bot: BotState) -> None:
    transport = httpx.ASGITransport(app=make_app(emulator))
    async with (
        polling_app(emulator, bot, HELLO_HANDLERS),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
    ):
        page = await client.get("/simulator")
        assert page.status_code == 200 and "/simulator/static/simulator.js" in page.text
        assert (await client.get("/simulator/static/simulator.css")).status_code == 200
        assert (await client.get("/simulator/static/../simulator.py")).status_code == 404
        people = (await client.get("/simulator/api/people")).json()
        assert [p["telegram_user_id"] for p in people] == [810001, 810002]

        opened = (await client.post("/simulator/api/open", json={"telegram_user_id": 810001})).json()
        assert opened["messages"][0]["text"] == "/start demo-teacher"
        assert emulator.registry.users[810001]["first_name"] == "王老师"
        chat = await wait_chat(client, 810001, lambda c: len(c["messages"]) >= 2)
        assert chat["messages"][1]["text"] == "hello /start demo-teacher"
        again = (await client.post("/simulator/api/open", json={"telegram_user_id": 810001})).json()
        assert len([m for m in again["messages"] if not m["from_bot"]]) == 1  # START is pressed only once
        unchanged = (await client.get(f"/simulator/api/chat/810001?known={chat['version']}")).json()
        assert unchanged == {"version": chat["version"], "unchanged": True}

        await client.post("/simulator/api/chat/810001/send", json={"text": "hi"})
        chat = await wait_chat(client, 810001, lambda c: c["messages"][-1]["text"] == "hello hi")
        tap = await client.post(
            "/simulator/api/chat/810001/tap",
            json={"label": "Say hi back", "message_id": chat["messages"][-1]["message_id"]},
        )
        assert tap.status_code == 200
        chat = await wait_chat(client, 810001, lambda c: c["messages"][-1]["text"] == "you tapped hi")
        assert chat["callback_answers"][-1]["text"] == "👋"

        files = {"file": ("p.jpg", make_test_image(300, 200), "image/jpeg")}
        sent = (await client.post("/simulator/api/chat/810001/photo", files=files)).json()
        biggest = sent["photo"][-1]
        image = await client.get(f"/simulator/api/file/{biggest['file_id']}")
        assert image.headers["content-type"] == "image/jpeg" and len(image.content) == biggest["file_size"]
        bad = await client.post(
            "/simulator/api/chat/810001/photo", files={"file": ("x.jpg", b"nope", "image/jpeg")}
        )
        assert bad.status_code == 400
        located = await client.post(
            "/simulator/api/chat/810001/location", json={"latitude": 25.0, "longitude": 102.7}
        )
        assert located.json()["location"] == {"latitude": 25.0, "longitude": 102.7}
        assert (
            await client.post("/simulator/api/chat/810001/tap", json={"label": "Nope"})
        ).status_code == 400
        assert (await client.post("/simulator/api/open", json={"telegram_user_id": 1})).status_code == 404
