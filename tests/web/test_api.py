"""/api/v1: bearer tokens, the same scope as the dashboard, filters, events and statistics."""

from __future__ import annotations

import httpx
import pytest

from domain.people.webauth import NoDashboardAccess, create_api_token
from storage.uow import UnitOfWorkFactory
from tests.web.county import County, at


async def token_for(uow_factory: UnitOfWorkFactory, county: County, key: str) -> dict[str, str]:
    async with uow_factory() as uow:
        token = await create_api_token(uow, county.staff[key], f"{key}-integration", now=at("10-01"))
        await uow.commit()
    return {"Authorization": f"Bearer {token}"}


async def test_the_api_needs_a_valid_bearer_token(client: httpx.AsyncClient, county: County) -> None:
    for headers in ({}, {"Authorization": "Bearer nol_forged"}, {"Authorization": "Basic abc"}):
        reply = await client.get("/api/v1/cases", headers=headers)
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"


async def test_teachers_get_no_api_token(uow_factory: UnitOfWorkFactory, county: County) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NoDashboardAccess):
            await create_api_token(uow, county.staff["teacher_a"], "x", now=at("10-01"))


async def test_cases_are_scoped_filtered_and_paged(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    principal = await token_for(uow_factory, county, "principal")
    body = (await client.get("/api/v1/cases", headers=principal)).json()
    assert body["total"] == 4 and {c["id"] for c in body["items"]} == {county.cases[k] for k in "ABCD"}
    a = next(c for c in body["items"] if c["id"] == county.cases["A"])
    assert a["student_name"] != county.students["A"].name and "*" in a["student_name"]
    overdue = (await client.get("/api/v1/cases?overdue=true", headers=principal)).json()
    assert {c["id"] for c in overdue["items"]} == {county.cases["B"], county.cases["C"]}
    statuses = (await client.get("/api/v1/cases?status=absent&status=closed", headers=principal)).json()
    assert {c["id"] for c in statuses["items"]} == {county.cases["B"], county.cases["D"]}
    paged = (await client.get("/api/v1/cases?per_page=3&page=2", headers=principal)).json()
    assert paged["total"] == 4 and len(paged["items"]) == 1
    assert (
        await client.get(f"/api/v1/cases?school_id={county.school2.id}", headers=principal)
    ).status_code == 404
    assert (await client.get("/api/v1/cases?status=nonsense", headers=principal)).status_code == 422


async def test_case_and_events_outside_ones_area_answer_404(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    other = await token_for(uow_factory, county, "other_principal")
    for path in (
        f"/api/v1/cases/{county.cases['A']}",
        f"/api/v1/cases/{county.cases['A']}/events",
        "/api/v1/cases/2147483647",
    ):
        assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.get(f"/api/v1/cases/{county.cases['E']}", headers=other)).status_code == 200


async def test_case_detail_and_timeline(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    county_officer = await token_for(uow_factory, county, "county")
    detail = (await client.get(f"/api/v1/cases/{county.cases['C']}", headers=county_officer)).json()
    assert detail["status"] == "notice_issued" and detail["overdue"] is True
    assert detail["flags"] == ["low_income"] and detail["responsible_teacher"] == "王老师"
    events = (await client.get(f"/api/v1/cases/{county.cases['C']}/events", headers=county_officer)).json()
    assert [e["kind"] for e in events][:2] == ["opened", "absence_reported"]
    visit = next(e for e in events if e["kind"] == "visit_logged")
    assert visit["data"]["outcome"] == "refused" and "location" not in visit["data"]
    async with uow_factory() as uow:
        views = [(e.entity_id, e.actor_label) for e in await uow.audit.entries("view")]
    assert views == [(str(county.cases["C"]), "api:county-integration")] * 2


async def test_statistics_of_the_area(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    stats = (
        await client.get("/api/v1/statistics", headers=await token_for(uow_factory, county, "township"))
    ).json()
    assert stats["by_status"] == {"retention": 1, "absent": 1, "notice_issued": 1, "closed": 1}
    assert stats["open_total"] == 3 and stats["overdue_total"] == 2 and stats["retention_rate"] == 0.875
    assert stats["overdue_by_school"] == [
        {"school_id": county.world.school.id, "school": "示范镇中心小学", "overdue": 2}
    ]
    assert len(stats["weeks"]) == 12 and stats["weeks"][-1] == {
        "starts_on": "2026-10-12",
        "opened": 0,
        "returned": 0,
    }
    assert {"starts_on": "2026-10-05", "opened": 1, "returned": 1} in stats["weeks"]


async def test_openapi_documents_the_api_with_bearer_auth(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert {
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/events",
        "/api/v1/statistics",
    } <= set(schema["paths"])
    assert not any(p.startswith(("/cases", "/login", "/exports")) for p in schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
