"""Every dashboard and API view of lists and figures leaves exactly one audit entry, with the filter
asked for and no names (issue 15; case pages, photos and exports were audited already)."""

from __future__ import annotations

import json

import httpx
import pytest

from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import County
from tests.web.test_api import token_for


async def _new_entries(uow_factory: UnitOfWorkFactory, before: int) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    async with uow_factory() as uow:
        entries = (await uow.audit.entries())[before:]
    return [(e.action, e.entity, e.detail) for e in entries]


async def _count(uow_factory: UnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        return len(await uow.audit.entries())


@pytest.mark.parametrize(
    ("url", "entity"),
    [("/dashboard", "overview"), ("/staff", "staff_overview"), ("/todo", "todo")],
)
async def test_each_page_view_adds_one_audit_entry(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, url: str, entity: str
) -> None:
    client = await as_user("township")
    before = await _count(uow_factory)
    assert (await client.get(url)).status_code == 200
    [(action, audited, _detail)] = await _new_entries(uow_factory, before)
    assert (action, audited) == ("view", entity)


async def test_the_case_list_is_audited_once_with_its_filter_and_no_names(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("county")
    before = await _count(uow_factory)
    school = county.world.school.id
    reply = await client.get(
        "/cases",
        params={"status": ["dropped_out", "persuading"], "school": school, "key_group": "left_behind"},
    )
    assert reply.status_code == 200
    name = county.students["A"].name
    unfiltered = await client.get("/cases", params={"key_group": name})  # a name typed into the URL
    assert unfiltered.status_code == 200
    entries = await _new_entries(uow_factory, before)
    assert [(a, e) for a, e, _ in entries] == [("view", "case_list"), ("view", "case_list")]
    first, second = entries[0][2], entries[1][2]
    assert first["filter"] == {
        "status": ["dropped_out", "persuading"],
        "school": school,
        "key_group": "left_behind",
    }
    assert first["page"] == 1 and isinstance(first["rows"], int)
    assert second["filter"] == {"key_group": "?"}
    assert name not in json.dumps(entries, ensure_ascii=False)


async def test_a_filter_outside_the_area_is_audited_as_denied_not_as_a_view(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    before = await _count(uow_factory)
    assert (await client.get(f"/cases?school={county.school2.id}")).status_code == 404
    assert [(a, e) for a, e, _ in await _new_entries(uow_factory, before)] == [("denied", "school")]


async def test_api_lists_and_statistics_are_audited_once_per_request(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    headers = await token_for(uow_factory, county, "township")
    before = await _count(uow_factory)
    assert (
        await client.get("/api/v1/cases?status=persuading&per_page=1", headers=headers)
    ).status_code == 200
    assert (await client.get("/api/v1/statistics", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/escalations", headers=headers)).status_code == 200
    entries = await _new_entries(uow_factory, before)
    assert [(a, e) for a, e, _ in entries] == [
        ("view", "case_list"),
        ("view", "overview"),
        ("view", "escalations"),
    ]
    assert entries[0][2] == {"filter": {"status": ["persuading"]}, "page": 1, "rows": entries[0][2]["rows"]}
