"""The simulator's 企业微信 side over HTTP: a demo person acts as a WeCom member; what they type, photograph,
locate and tap reaches the product's real /wecom/callback (stored in the inbox), and their chat lists what
the app sent them (text, a template card with its buttons, a file), a card greyed out once updated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.wecom.api import App, WeComClient
from bot.wecom.cards import button_card
from bot.wecom.inbound import CardTap, Image, Location, Text
from bot.wecom.tokens import DatabaseTokenStore
from domain.clock import FixedClock
from sandbox.files import make_test_image
from sandbox.wecom import WeComEmulator
from sandbox.wecom.simulator import wecom_simulator_router
from storage.uow import UnitOfWorkFactory
from tests.unit.test_wecom_crypto import CORP_ID, ENCODING_AES_KEY, TOKEN
from tests.web.live import live_server
from tests.web.test_wecom_inbox import AGENT_ID, WECOM, stored

TEACHER: dict[str, Any] = {
    "telegram_user_id": 7000001,
    "name": "王老师",
    "role_label": "班主任 Class teacher",
    "language": "zh-hans",
    "start_payload": "tg-invite-code",
    "wecom_userid": "demo-1",
    "wecom_code": "wecom-invite-code-1",
}
CADRE = TEACHER | {"telegram_user_id": 7000002, "wecom_userid": "demo-2", "wecom_code": None}


@pytest.fixture
async def wecom(clock: FixedClock) -> AsyncIterator[WeComEmulator]:
    emu = WeComEmulator(
        corp_id=CORP_ID, agent_id=AGENT_ID, token=TOKEN, encoding_aes_key=ENCODING_AES_KEY,
        now=lambda: clock.now().timestamp(),
    )  # fmt: skip
    async with emu:
        yield emu


@pytest.fixture
async def simulator(
    wecom: WeComEmulator, database_url: str, media_dir: Path, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's WeCom routes, with the emulator posting to a real product server."""

    async def people() -> list[dict[str, Any]]:
        return [TEACHER, CADRE]

    app = FastAPI()
    app.include_router(wecom_simulator_router(wecom, people))
    with live_server(database_url, media_dir, clock, **WECOM) as url:
        wecom.connect(f"{url}/wecom/callback")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


@pytest.fixture
async def product(
    wecom: WeComEmulator, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> AsyncIterator[WeComClient]:
    """The product's own WeCom client, writing to the emulator's members."""
    app = App(CORP_ID, AGENT_ID, wecom.state.secret)
    tokens = DatabaseTokenStore(uow_factory)
    async with WeComClient(app, base_url=wecom.api_base_url, tokens=tokens, clock=clock) as client:
        yield client


async def test_an_unbound_person_sends_their_invite_code_once_when_the_chat_opens(
    simulator: httpx.AsyncClient, wecom: WeComEmulator, uow_factory: UnitOfWorkFactory
) -> None:
    opened = (await simulator.post("/simulator/api/wecom/open", json={"userid": "demo-1"})).json()
    assert [m["text"] for m in opened["messages"]] == ["wecom-invite-code-1"]
    assert "demo-1" in wecom.state.members  # in the app's visible range: the app may write back
    again = (await simulator.post("/simulator/api/wecom/open", json={"userid": "demo-1"})).json()
    assert len(again["messages"]) == 1
    bound = (await simulator.post("/simulator/api/wecom/open", json={"userid": "demo-2"})).json()
    assert bound["messages"] == []
    assert [(m.sender, m.content) for m in await stored(uow_factory) if isinstance(m, Text)] == [
        ("demo-1", "wecom-invite-code-1")
    ]
    unknown = await simulator.post("/simulator/api/wecom/open", json={"userid": "nobody"})
    assert unknown.status_code == 404


async def test_text_photo_and_location_reach_the_product_inbox(
    simulator: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    await simulator.post("/simulator/api/wecom/open", json={"userid": "demo-2"})
    chat = (await simulator.post("/simulator/api/wecom/chat/demo-2/send", json={"text": "/report"})).json()
    assert chat["messages"][-1] | {"date": 0} == {
        "message_id": chat["messages"][-1]["message_id"],
        "from_bot": False,
        "date": 0,
        "text": "/report",
    }
    clock.advance(timedelta(seconds=1))
    files = {"file": ("p.jpg", make_test_image(300, 200), "image/jpeg")}
    chat = (await simulator.post("/simulator/api/wecom/chat/demo-2/photo", files=files)).json()
    photo = chat["messages"][-1]["photo"][0]
    shown = await simulator.get(photo["url"])
    assert (shown.status_code, shown.headers["content-type"]) == (200, "image/jpeg")
    clock.advance(timedelta(seconds=1))
    await simulator.post(
        "/simulator/api/wecom/chat/demo-2/location", json={"latitude": 27.2, "longitude": 110.3}
    )
    bad = await simulator.post(
        "/simulator/api/wecom/chat/demo-2/photo", files={"file": ("x.jpg", b"nope", "image/jpeg")}
    )
    assert bad.status_code == 400
    assert (
        await simulator.post("/simulator/api/wecom/chat/demo-2/send", json={"text": " "})
    ).status_code == 400

    inbox = await stored(uow_factory)
    assert [type(m) for m in inbox] == [Text, Image, Location]
    assert isinstance(inbox[1], Image) and inbox[1].media_id == photo["media_id"]
    assert isinstance(inbox[2], Location) and (inbox[2].lat, inbox[2].lon) == (27.2, 110.3)


async def test_the_chat_lists_what_the_app_sent_and_a_tapped_card_reads_as_answered(
    simulator: httpx.AsyncClient,
    product: WeComClient,
    clock: FixedClock,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await simulator.post("/simulator/api/wecom/open", json={"userid": "demo-2"})
    await product.send_text("demo-2", "请选择学生")
    card = button_card("case-7-step-2", "王小明今天来了吗？", [("yes", "来了"), ("no", "没来")])
    sent = await product.send_card("demo-2", card)
    media_id = await product.upload_media("file", "台账.xlsx", b"PK\x03\x04", "application/vnd.ms-excel")
    await product.send_file("demo-2", media_id)

    chat = (await simulator.get("/simulator/api/wecom/chat/demo-2")).json()
    text, shown_card, document = chat["messages"]
    assert text["text"] == "请选择学生" and text["from_bot"]
    assert shown_card["text"] == "王小明今天来了吗？"
    assert shown_card["reply_markup"] == {"inline_keyboard": [[{"text": "来了"}, {"text": "没来"}]]}
    assert document["document"]["file_name"] == "台账.xlsx"
    assert (await simulator.get(document["document"]["url"])).content == b"PK\x03\x04"
    unchanged = (await simulator.get(f"/simulator/api/wecom/chat/demo-2?known={chat['version']}")).json()
    assert unchanged == {"version": chat["version"], "unchanged": True}

    tap = {"label": "没来", "message_id": sent.msgid}
    assert (await simulator.post("/simulator/api/wecom/chat/demo-2/tap", json=tap)).status_code == 200
    taps = [m for m in await stored(uow_factory) if isinstance(m, CardTap)]
    assert [(t.sender, t.task_id, t.event_key) for t in taps] == [("demo-2", "case-7-step-2", "no")]

    await product.update_card_buttons("demo-2", sent.response_code, "没来")
    chat = (await simulator.get(f"/simulator/api/wecom/chat/demo-2?known={chat['version']}")).json()
    answered = chat["messages"][1]
    assert answered["card_answer"] == "没来" and "reply_markup" not in answered
    nope = await simulator.post("/simulator/api/wecom/chat/demo-2/tap", json=tap | {"label": "也许"})
    assert nope.status_code == 400
