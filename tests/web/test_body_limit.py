"""Bodies over the dashboard's limit are refused with 413 before they are held in memory (issue 15)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import County
from tests.web.test_api import token_for
from web.nul_guard import MAX_BODY


async def _chunks(total: int) -> AsyncIterator[bytes]:
    """A body sent without a Content-Length (chunked), so only counting what arrives can catch it."""
    sent = 0
    while sent < total:
        piece = min(64 * 1024, total - sent)
        sent += piece
        yield b"a" * piece


async def test_a_form_over_the_limit_gets_413_in_the_callers_language(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("principal")
    page = await client.get(f"/cases/{county.cases['C']}")
    form = {"csrf_token": csrf_of(page.text), "decision": "escalate", "note": "x" * MAX_BODY}
    reply = await client.post(f"/cases/{county.cases['C']}/decisions", data=form)
    assert reply.status_code == 413 and "请求内容过大" in reply.text
    streamed = await client.post(
        f"/cases/{county.cases['C']}/decisions",
        content=_chunks(MAX_BODY + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    # Nothing was decided; a form of ordinary size still works.
    form["note"] = "县教育局协调"
    assert (await client.post(f"/cases/{county.cases['C']}/decisions", data=form)).status_code == 303


async def test_an_api_body_over_the_limit_gets_413_as_json(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    principal = await token_for(uow_factory, county, "principal")
    url = f"/api/v1/cases/{county.cases['C']}/decisions"
    reply = await client.post(url, json={"decision": "escalate", "note": "x" * MAX_BODY}, headers=principal)
    assert reply.status_code == 413 and reply.json()["reason"] == "body_too_large"
    assert "请求内容过大" in reply.json()["detail"]
    exactly = await client.post(url, content=b" " * MAX_BODY, headers=principal)
    assert exactly.status_code == 422  # at the limit: read, and refused by the route as not JSON
