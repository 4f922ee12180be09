"""/docs and /redoc load scripts from a public CDN: off unless WEB_API_DOCS turns them on (issue 15)."""

from __future__ import annotations

import dataclasses

import httpx

from app.container import Services
from web.app import create_app


async def test_the_documentation_pages_are_off_by_default_but_the_schema_is_served(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert (await client.get(path)).status_code == 404, path
    schema = await client.get("/openapi.json")
    assert schema.status_code == 200 and "/api/v1/cases" in schema.json()["paths"]


async def test_web_api_docs_turns_them_on(services: Services) -> None:
    settings = services.settings.model_copy(update={"web_api_docs": True})
    app = create_app(dataclasses.replace(services, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        docs, redoc = await c.get("/docs"), await c.get("/redoc")
    assert docs.status_code == 200 and redoc.status_code == 200
    assert "/openapi.json" in docs.text and "/openapi.json" in redoc.text
