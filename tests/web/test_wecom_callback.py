"""GET /wecom/callback over HTTP: WeCom's URL verification answered exactly, everything else refused."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.container import Services
from app.settings import Settings
from domain.clock import FixedClock
from storage.models import AuditEntry
from storage.uow import UnitOfWorkFactory
from tests.unit.test_wecom_crypto import (
    CORP_ID,
    ECHOSTR,
    ENCODING_AES_KEY,
    MSG_SIGNATURE,
    NONCE,
    PLAINTEXT,
    SENT,
    TIMESTAMP,
    TOKEN,
)
from tests.web.live import live_server
from web.app import create_app

WECOM = {"wecom_corp_id": CORP_ID, "wecom_token": TOKEN, "wecom_encoding_aes_key": ENCODING_AES_KEY}
PUBLISHED = {"msg_signature": MSG_SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE, "echostr": ECHOSTR}


@pytest.fixture
def wecom_app(services: Services, clock: FixedClock, database_url: str, media_dir: Path) -> FastAPI:
    """The web app with the published example's app configured, its clock at the example's moment."""
    clock.set(SENT)
    settings = Settings(database_url=database_url, media_dir=media_dir, _env_file=None, **WECOM)  # type: ignore[call-arg, arg-type]
    return create_app(dataclasses.replace(services, settings=settings))


@pytest.fixture
async def wecom(wecom_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=wecom_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_the_published_example_is_answered_with_its_plaintext_exactly(
    wecom: httpx.AsyncClient, uow_factory: UnitOfWorkFactory
) -> None:
    reply = await wecom.get("/wecom/callback", params=PUBLISHED)
    assert reply.status_code == 200
    assert reply.content == b"1616140317555161061"
    assert reply.headers["content-type"].startswith("text/plain")
    async with uow_factory() as uow:
        entries = (
            await uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "wecom_callback"))
        ).all()
    assert [(e.action, e.actor_label, e.detail) for e in entries] == [("verify", "wecom", {})]


async def test_a_bad_signature_is_forbidden_with_an_empty_body(wecom: httpx.AsyncClient) -> None:
    reply = await wecom.get(
        "/wecom/callback", params=PUBLISHED | {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4"}
    )
    assert (reply.status_code, reply.content) == (403, b"")
    tampered = await wecom.get("/wecom/callback", params=PUBLISHED | {"nonce": "263014781"})
    assert (tampered.status_code, tampered.content) == (403, b"")


@pytest.mark.parametrize(
    "off", [timedelta(minutes=5, seconds=1), -timedelta(minutes=6), timedelta(days=4400)]
)
async def test_a_stale_timestamp_is_forbidden(
    wecom: httpx.AsyncClient, clock: FixedClock, off: timedelta
) -> None:
    clock.set(SENT + off)
    reply = await wecom.get("/wecom/callback", params=PUBLISHED)
    assert (reply.status_code, reply.content) == (403, b"")


async def test_a_replay_within_the_window_is_forbidden(wecom: httpx.AsyncClient, clock: FixedClock) -> None:
    assert (await wecom.get("/wecom/callback", params=PUBLISHED)).status_code == 200
    clock.advance(timedelta(minutes=1))
    reply = await wecom.get("/wecom/callback", params=PUBLISHED)
    assert (reply.status_code, reply.content) == (403, b"")


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce", "echostr"])
async def test_a_missing_parameter_is_a_bad_request(wecom: httpx.AsyncClient, missing: str) -> None:
    params = {k: v for k, v in PUBLISHED.items() if k != missing}
    assert (await wecom.get("/wecom/callback", params=params)).status_code == 400
    empty = await wecom.get("/wecom/callback", params=PUBLISHED | {missing: ""})
    assert (empty.status_code, empty.content) == (400, b"")


async def test_a_signed_echostr_for_another_corp_is_a_bad_request(
    services: Services, clock: FixedClock, database_url: str, media_dir: Path
) -> None:
    clock.set(SENT)
    other = WECOM | {"wecom_corp_id": "wx0000000000000000"}
    settings = Settings(database_url=database_url, media_dir=media_dir, _env_file=None, **other)  # type: ignore[call-arg, arg-type]
    app = create_app(dataclasses.replace(services, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        reply = await c.get("/wecom/callback", params=PUBLISHED)
    assert (reply.status_code, reply.content) == (400, b"")


async def test_a_post_without_a_ciphertext_is_a_bad_request(wecom: httpx.AsyncClient) -> None:
    reply = await wecom.post("/wecom/callback", params=PUBLISHED, content=b"<xml></xml>")
    assert (reply.status_code, reply.content) == (400, b"")


async def test_without_wecom_settings_there_is_no_callback(client: httpx.AsyncClient) -> None:
    assert (await client.get("/wecom/callback", params=PUBLISHED)).status_code == 404


async def test_a_partial_configuration_leaves_the_callback_off_and_says_so(
    services: Services, database_url: str, media_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    partial = {"wecom_corp_id": CORP_ID, "wecom_encoding_aes_key": ENCODING_AES_KEY}  # no token
    settings = Settings(database_url=database_url, media_dir=media_dir, _env_file=None, **partial)  # type: ignore[call-arg, arg-type]
    app = create_app(dataclasses.replace(services, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await c.get("/wecom/callback", params=PUBLISHED)).status_code == 404
    assert "WeCom callback off: WECOM_TOKEN not set" in caplog.text
    assert ENCODING_AES_KEY not in caplog.text


def test_a_real_server_answers_the_percent_encoded_example_byte_for_byte(
    database_url: str, media_dir: Path, clock: FixedClock
) -> None:
    clock.set(SENT)
    # As WeCom sends it: echostr URL-encoded (+ → %2B, / → %2F, = → %3D).
    query = f"msg_signature={MSG_SIGNATURE}&timestamp={TIMESTAMP}&nonce={NONCE}&echostr=" + ECHOSTR.replace(
        "+", "%2B"
    ).replace("/", "%2F").replace("=", "%3D")
    with live_server(database_url, media_dir, clock, **WECOM) as url:
        reply = httpx.get(f"{url}/wecom/callback?{query}", timeout=10)
    assert reply.status_code == 200
    assert reply.content == PLAINTEXT.encode() == b"1616140317555161061"
