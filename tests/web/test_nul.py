"""A NUL character anywhere in a request is refused with 400, never a 500 (issue 15), on both databases."""

from __future__ import annotations

import httpx
import pytest

from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of, login
from tests.web.county import County
from tests.web.test_api import token_for
from web.nul_guard import body_has_nul

MESSAGE_ZH = "请求中含有空字符"


async def _login_form(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    page = await client.get("/login")
    return {"username": username, "password": "x", "csrf_token": csrf_of(page.text), "next": "/dashboard"}


async def test_a_login_with_a_nul_is_refused_before_the_database(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    reply = await client.post("/login", data=await _login_form(client, "princ\x00ipal"))
    assert reply.status_code == 400 and MESSAGE_ZH in reply.text
    as_multipart = await client.post(
        "/login", files={k: (None, v) for k, v in (await _login_form(client, "\x00")).items()}
    )
    assert as_multipart.status_code == 400
    async with uow_factory() as uow:  # refused before the password check: not a login attempt
        assert not [e for e in await uow.audit.entries() if e.action == "login_failed"]
    assert (await login(client, "principal")).status_code == 303  # the form works as before


async def test_the_refusal_is_in_the_callers_language(client: httpx.AsyncClient, county: County) -> None:
    await client.get("/login?lang=en")
    reply = await client.post("/login", data=await _login_form(client, "a\x00"))
    assert reply.status_code == 400 and "NUL character" in reply.text


async def test_a_dashboard_filter_with_a_nul_is_refused(as_user: AsUser) -> None:
    client = await as_user("principal")
    assert (await client.get("/cases", params={"key_group": "left\x00behind"})).status_code == 400
    assert (await client.get("/cases?status=open%00")).status_code == 400
    assert (await client.get("/cases", params={"key_group": "left_behind"})).status_code == 200


async def test_an_api_body_with_a_nul_is_refused(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    principal = await token_for(uow_factory, county, "principal")
    url = f"/api/v1/cases/{county.cases['C']}/decisions"
    reply = await client.post(url, json={"decision": "escalate", "note": "县\x00教育局"}, headers=principal)
    assert reply.status_code == 400 and reply.json()["reason"] == "nul_character"
    assert MESSAGE_ZH in reply.json()["detail"]
    listed = await client.get("/api/v1/cases", params={"school": "\x00"}, headers=principal)
    assert listed.status_code == 400


@pytest.mark.parametrize(
    ("content_type", "body", "refused"),
    [
        ("application/json", b'{"a": ["x\\u0000"]}', True),
        ("", b'{"k\\u0000": 1}', True),  # FastAPI reads a body without a content type as JSON
        ("application/json", b'{"a": "\\\\u0000"}', False),  # an escaped backslash, then "u0000"
        ("application/json", b"not json", False),
        ("application/x-www-form-urlencoded", b"a=%00", True),
        ("application/x-www-form-urlencoded", b"a=%2500", False),  # the text "%00"
        ("multipart/form-data; boundary=b", b"--b\r\n\x00", True),
        ("application/x-www-form-urlencoded", b"", False),
    ],
)
def test_which_bodies_hold_a_nul(content_type: str, body: bytes, refused: bool) -> None:
    assert body_has_nul(content_type, body) is refused
