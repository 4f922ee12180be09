"""GET /metrics: loopback or token only, and the shared-state gauges read from the database."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.container import Services
from storage.models import InboxUpdate, Lease, Reminder
from tests.web.county import County
from web.app import create_app


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def client_from(services: Services, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(services), client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_metrics_answer_loopback_only_without_a_token(services: Services) -> None:
    async with client_from(services, "127.0.0.1") as local, client_from(services, "203.0.113.9") as outside:
        ok = await local.get("/metrics")
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
        assert "notoneless_reminders_due" in ok.text and "notoneless_step_seconds" in ok.text
        assert (await outside.get("/metrics")).status_code == 404


async def test_with_a_token_it_is_needed_from_every_address(services: Services) -> None:
    settings = services.settings.model_copy(update={"metrics_token": SecretStr("s3cret-metrics-token")})
    services = dataclasses.replace(services, settings=settings)
    async with client_from(services, "127.0.0.1") as local, client_from(services, "203.0.113.9") as outside:
        assert (await local.get("/metrics")).status_code == 404
        assert (await local.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 404
        good = {"Authorization": "Bearer s3cret-metrics-token"}
        assert (await outside.get("/metrics", headers=good)).status_code == 200


async def test_state_gauges_count_what_is_due_the_inbox_and_the_leader(
    services: Services, county: County
) -> None:
    now = services.clock.now()
    teacher = county.world.staff["teacher_a"].id

    def reminder(key: str, state: str, send_after: timedelta) -> Reminder:
        return Reminder(
            kind="first_visit",
            recipient_id=teacher,
            due_at=now + send_after,
            send_after=now + send_after,
            state=state,
            dedupe_key=f"metrics-{key}",
            created_at=now,
        )

    async with client_from(services, "127.0.0.1") as local:
        before = values((await local.get("/metrics")).text)  # the county's own planned reminders
    async with services.uow() as uow:
        uow.session.add_all(
            [
                reminder("late", "pending", -timedelta(minutes=10)),
                reminder("due", "pending", -timedelta(minutes=1)),
                reminder("later", "pending", timedelta(hours=1)),
                reminder("given-up", "failed", -timedelta(days=1)),
                InboxUpdate(channel="telegram", bot_id=1, update_id=1, received_at=now, payload={}),
                Lease(
                    name="scheduler", holder="host:1:abc", since=now, expires_at=now + timedelta(seconds=30)
                ),
            ]
        )
        await uow.commit()
    async with client_from(services, "127.0.0.1") as local:
        got = values((await local.get("/metrics")).text)
    for name, added in (("reminders_due", 2), ("reminders_failed_rows", 1), ("inbox_depth", 1)):
        key = (f"notoneless_{name}", ())
        assert got[key] == before[key] + added, name
    assert got[("notoneless_outbox_lag_seconds", ())] >= 600
    assert got[("notoneless_lease_held", (("holder", "host:1:abc"), ("lease", "scheduler")))] == 1


async def test_a_refused_login_is_counted(client: httpx.AsyncClient, county: County) -> None:
    from prometheus_client import REGISTRY

    from tests.web.conftest import login

    before = REGISTRY.get_sample_value("notoneless_login_failures_total", {"reason": "refused"}) or 0.0
    assert (await login(client, "nobody-here", "wrong password 1")).status_code == 401
    assert REGISTRY.get_sample_value("notoneless_login_failures_total", {"reason": "refused"}) == before + 1
