"""POST /wecom/callback over HTTP on SQLite and PostgreSQL: signed and encrypted by the tests' own wire
helper (not the product's crypto), stored once in the inbox, refused with 403 when forged, stale or replayed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.container import Services
from app.settings import Settings
from bot.wecom.api import App, WeComClient
from bot.wecom.cards import button_card
from bot.wecom.inbound import CardTap, Enter, Image, Location, Text, pending
from bot.wecom.tokens import DatabaseTokenStore
from domain.clock import FixedClock
from sandbox.wecom import WeComEmulator
from sandbox.wecom.members import XmlFields, to_xml
from storage.uow import UnitOfWorkFactory
from tests.unit.test_wecom_crypto import CORP_ID, ENCODING_AES_KEY, TOKEN
from tests.web.live import live_server
from tests.wecom_wire import callback, seal, sign
from web.app import create_app

AGENT_ID = 1000002
WECOM = {
    "wecom_corp_id": CORP_ID,
    "wecom_token": TOKEN,
    "wecom_encoding_aes_key": ENCODING_AES_KEY,
    "wecom_agent_id": AGENT_ID,
}


@pytest.fixture
async def wecom(services: Services, database_url: str, media_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, media_dir=media_dir, _env_file=None, **WECOM)  # type: ignore[call-arg, arg-type]
    app: FastAPI = create_app(dataclasses.replace(services, settings=settings))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def text_xml(clock: FixedClock, content: str = "王小明今天没来", msg_id: int = 7001) -> str:
    return to_xml(
        {
            "ToUserName": CORP_ID,
            "FromUserName": "zhangsan",
            "CreateTime": int(clock.now().timestamp()),
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
            "AgentID": AGENT_ID,
        }
    )


def event_xml(clock: FixedClock, event: str, **fields: str | float) -> str:
    base: XmlFields = {
        "ToUserName": CORP_ID,
        "FromUserName": "zhangsan",
        "CreateTime": int(clock.now().timestamp()),
    }
    return to_xml(base | {"MsgType": "event", "AgentID": AGENT_ID, "Event": event} | fields)


def signed(
    clock: FixedClock, xml: str, nonce: str, *, corp_id: str = CORP_ID, late: timedelta = timedelta(0)
) -> tuple[dict[str, str], bytes]:
    """A callback request as WeCom sends it, signed `late` before the server's clock."""
    timestamp = str(int((clock.now() - late).timestamp()))
    return callback(
        xml, token=TOKEN, encoding_aes_key=ENCODING_AES_KEY, corp_id=corp_id, timestamp=timestamp, nonce=nonce
    )


async def post(
    client: httpx.AsyncClient, clock: FixedClock, xml: str, nonce: str = "1", **override: str
) -> httpx.Response:
    params, body = signed(clock, xml, nonce)
    return await client.post("/wecom/callback", params=params | override, content=body)


async def stored(uow_factory: UnitOfWorkFactory) -> list[object]:
    async with uow_factory() as uow:
        return [p.message for p in await pending(uow, AGENT_ID)]


async def test_a_text_is_stored_and_acknowledged_with_an_empty_200(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    reply = await post(wecom, clock, text_xml(clock))
    assert (reply.status_code, reply.content) == (200, b"")
    assert await stored(uow_factory) == [
        Text("zhangsan", clock.now().replace(microsecond=0), "王小明今天没来")
    ]


async def test_a_message_delivered_twice_is_stored_once(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    xml = text_xml(clock)
    first = await post(wecom, clock, xml, nonce="1")
    clock.advance(timedelta(seconds=5))  # WeCom's retry: the same message, signed again
    again = await post(wecom, clock, xml, nonce="2")
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(await stored(uow_factory)) == 1


async def test_an_event_delivered_twice_is_stored_once_and_another_tap_is_another(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    tap = {
        "EventKey": "yes",
        "TaskId": "case-7-step-2",
        "CardType": "button_interaction",
        "ResponseCode": "rc1",
    }
    assert (
        await post(wecom, clock, event_xml(clock, "template_card_event", **tap), nonce="1")
    ).status_code == 200
    assert (
        await post(wecom, clock, event_xml(clock, "template_card_event", **tap), nonce="2")
    ).status_code == 200
    other = tap | {"TaskId": "case-8-step-2"}
    assert (
        await post(wecom, clock, event_xml(clock, "template_card_event", **other), nonce="3")
    ).status_code == 200
    taps = await stored(uow_factory)
    assert sorted(t.task_id for t in taps if isinstance(t, CardTap)) == ["case-7-step-2", "case-8-step-2"]


async def test_a_bad_signature_is_forbidden_and_nothing_is_stored(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    reply = await post(wecom, clock, text_xml(clock), msg_signature="0" * 40)
    assert (reply.status_code, reply.content) == (403, b"")
    other_token = await post(wecom, clock, text_xml(clock), nonce="2", msg_signature=sign("x", "1", "2", "3"))
    assert other_token.status_code == 403
    assert await stored(uow_factory) == []


async def test_a_ciphertext_swapped_under_a_valid_signature_is_forbidden(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    params, _ = signed(clock, text_xml(clock), "9")
    forged = seal(text_xml(clock, content="伪造"), ENCODING_AES_KEY, CORP_ID)
    body = f"<xml><ToUserName>{CORP_ID}</ToUserName><Encrypt>{forged}</Encrypt></xml>".encode()
    reply = await wecom.post("/wecom/callback", params=params, content=body)
    assert reply.status_code == 403
    assert await stored(uow_factory) == []


@pytest.mark.parametrize("late", [timedelta(minutes=6), -timedelta(minutes=6)])
async def test_a_stale_timestamp_is_forbidden(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory, late: timedelta
) -> None:
    params, body = signed(clock, text_xml(clock), "1", late=late)
    reply = await wecom.post("/wecom/callback", params=params, content=body)
    assert (reply.status_code, reply.content) == (403, b"")
    assert await stored(uow_factory) == []


async def test_the_same_request_again_is_a_replay_and_forbidden(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    params, body = signed(clock, text_xml(clock), "42")
    assert (await wecom.post("/wecom/callback", params=params, content=body)).status_code == 200
    clock.advance(timedelta(seconds=30))
    replay = await wecom.post("/wecom/callback", params=params, content=body)
    assert (replay.status_code, replay.content) == (403, b"")
    assert len(await stored(uow_factory)) == 1


async def test_a_message_sealed_for_another_corp_is_refused(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    params, body = signed(clock, text_xml(clock), "1", corp_id="wx0000000000000000")
    reply = await wecom.post("/wecom/callback", params=params, content=body)
    assert (reply.status_code, reply.content) == (400, b"")
    assert await stored(uow_factory) == []


async def test_xml_with_an_entity_is_refused(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    assert (await post(wecom, clock, bomb)).status_code == 400
    assert await stored(uow_factory) == []


async def test_photos_locations_and_events_are_read_back_typed(
    wecom: httpx.AsyncClient, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    at = int(clock.now().timestamp())
    image: XmlFields = {
        "ToUserName": CORP_ID,
        "FromUserName": "zhangsan",
        "CreateTime": at,
        "MsgType": "image",
    }
    await post(
        wecom,
        clock,
        to_xml(image | {"PicUrl": "http://x/p", "MediaId": "m1", "MsgId": 1, "AgentID": AGENT_ID}),
        "1",
    )
    clock.advance(timedelta(seconds=1))
    place: XmlFields = image | {"CreateTime": at + 1, "MsgType": "location", "MsgId": 2, "AgentID": AGENT_ID}
    await post(
        wecom,
        clock,
        to_xml(place | {"Location_X": 23.1, "Location_Y": 113.3, "Scale": 15, "Label": "石牌村"}),
        "2",
    )
    clock.advance(timedelta(seconds=1))
    await post(
        wecom, clock, event_xml(clock, "LOCATION", Latitude=23.2, Longitude=113.4, Precision=30.0), "3"
    )
    clock.advance(timedelta(seconds=1))
    await post(wecom, clock, event_xml(clock, "enter_agent", EventKey=""), "4")
    kinds = await stored(uow_factory)
    assert [type(k) for k in kinds] == [Image, Location, Location, Enter]
    assert isinstance(kinds[0], Image) and kinds[0].media_id == "m1"
    assert isinstance(kinds[1], Location) and (kinds[1].lat, kinds[1].lon, kinds[1].label) == (
        23.1,
        113.3,
        "石牌村",
    )
    assert isinstance(kinds[2], Location) and (kinds[2].lat, kinds[2].lon, kinds[2].label) == (
        23.2,
        113.4,
        "",
    )


async def test_emulated_members_reach_a_real_server(
    database_url: str, media_dir: Path, clock: FixedClock, uow_factory: UnitOfWorkFactory
) -> None:
    """The emulator's members, signed and encrypted by the emulator, reach the product over real HTTP;
    the tapped card was sent through the product's client."""
    emu = WeComEmulator(
        corp_id=CORP_ID, agent_id=AGENT_ID, token=TOKEN, encoding_aes_key=ENCODING_AES_KEY,
        now=lambda: clock.now().timestamp(),
    )  # fmt: skip
    async with emu:
        member = emu.add_member("zhangsan")
        app = App(CORP_ID, AGENT_ID, emu.state.secret)
        tokens = DatabaseTokenStore(uow_factory)
        async with WeComClient(app, base_url=emu.api_base_url, tokens=tokens, clock=clock) as client:
            await client.send_card("zhangsan", button_card("case-7", "王小明今天来了吗？", [("yes", "来了")]))
        with live_server(database_url, media_dir, clock, **WECOM) as url:
            emu.connect(f"{url}/wecom/callback")
            assert (await member.send_text("你好")).answers == [200]
            clock.advance(timedelta(seconds=20))
            assert (await member.send_location(23.1, 113.3, "石牌村")).answers == [200]
            clock.advance(timedelta(seconds=20))
            assert (await member.tap(member.received[0], "yes")).answers == [200]
    kinds = await stored(uow_factory)
    assert [type(k) for k in kinds] == [Text, Location, CardTap]
    assert isinstance(kinds[2], CardTap) and (kinds[2].task_id, kinds[2].event_key) == ("case-7", "yes")
