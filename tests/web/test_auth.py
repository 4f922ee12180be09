"""Dashboard login: argon2 passwords, cookie flags, CSRF, lock-out, logout, roles without access."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.container import Services
from domain.clock import FixedClock
from domain.errors import InvalidInput
from domain.people.webauth import (
    FIRST_DELAY,
    MAX_FAILED_LOGINS,
    SESSION_TTL,
    NoDashboardAccess,
    create_user,
    hash_password,
)
from storage.models import WebUser
from storage.uow import UnitOfWorkFactory
from tests.factories import CREATED
from tests.web.conftest import csrf_of, login
from tests.web.county import PASSWORD, County
from web.app import create_app
from web.deps import SESSION_COOKIE, WebConfig


async def test_login_page_is_chinese_by_default_and_english_on_request(
    client: httpx.AsyncClient, county: County
) -> None:
    assert "登录工作台" in (await client.get("/login")).text
    english = await client.get("/login?lang=en")
    assert "Log in to the dashboard" in english.text
    assert "Log in to the dashboard" in (await client.get("/login")).text  # the choice is remembered


async def test_login_sets_a_httponly_samesite_session_cookie(
    client: httpx.AsyncClient, county: County
) -> None:
    reply = await login(client, "principal")
    assert reply.status_code == 303 and reply.headers["location"] == "/dashboard"
    cookie = next(h for h in reply.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "陈校长" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"


async def test_cookie_is_secure_over_https_unless_configured_off(services: Services, county: County) -> None:
    for config, secure in ((WebConfig(), True), (WebConfig(cookie_secure=False), False)):
        transport = httpx.ASGITransport(app=create_app(services, web=config))
        async with httpx.AsyncClient(transport=transport, base_url="https://dash.example") as c:
            reply = await login(c, "principal")
            cookie = next(h for h in reply.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
            assert ("Secure" in cookie) is secure


async def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: httpx.AsyncClient, county: County
) -> None:
    wrong = await login(client, "principal", "not the password")
    unknown = await login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不正确" in wrong.text and "用户名或密码不正确" in unknown.text
    assert SESSION_COOKIE not in client.cookies


async def test_repeated_failures_hold_the_address_back_until_the_delay_ends(
    client: httpx.AsyncClient, county: County, clock: FixedClock
) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        assert (await login(client, "township", "guess")).status_code == 401
    held = await login(client, "township")  # even the right password
    assert held.status_code == 401 and "用户名或密码不正确" in held.text
    clock.advance(FIRST_DELAY + timedelta(seconds=1))
    assert (await login(client, "township")).status_code == 303


async def test_a_success_resets_the_failure_count(client: httpx.AsyncClient, county: County) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        await login(client, "county", "guess")
    assert (await login(client, "county")).status_code == 303
    client.cookies.clear()
    for _ in range(MAX_FAILED_LOGINS - 1):  # counting starts again: not locked after these
        assert (await login(client, "county", "guess")).status_code == 401


async def test_login_without_its_csrf_token_is_forbidden(client: httpx.AsyncClient, county: County) -> None:
    await client.get("/login")
    reply = await client.post(
        "/login", data={"username": "principal", "password": PASSWORD, "csrf_token": "x"}
    )
    assert reply.status_code == 403
    client.cookies.clear()
    reply = await client.post("/login", data={"username": "principal", "password": PASSWORD})
    assert reply.status_code == 403


async def test_posts_without_the_session_csrf_token_are_forbidden(
    client: httpx.AsyncClient, county: County
) -> None:
    await login(client, "principal")
    assert (await client.post("/logout", data={})).status_code == 403
    assert (await client.post("/logout", data={"csrf_token": "forged"})).status_code == 403
    assert (
        await client.post("/language", data={"language": "en", "csrf_token": "forged"})
    ).status_code == 403
    assert (await client.get("/dashboard")).status_code == 200  # still logged in


async def test_language_switch_changes_the_pages(client: httpx.AsyncClient, county: County) -> None:
    await login(client, "principal")
    page = await client.get("/cases")
    reply = await client.post(
        "/language",
        data={"language": "en", "csrf_token": csrf_of(page.text)},
        headers={"referer": "http://testserver/cases?status=absent"},
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/cases?status=absent"
    assert "Overview" in (await client.get("/dashboard")).text


async def test_logout_ends_the_session_even_for_a_copied_cookie(
    client: httpx.AsyncClient, county: County
) -> None:
    await login(client, "principal")
    stolen = client.cookies[SESSION_COOKIE]
    page = await client.get("/dashboard")
    reply = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert reply.status_code == 303 and reply.headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, stolen)
    assert (await client.get("/dashboard")).status_code == 303


async def test_pages_without_a_session_redirect_to_the_login(
    client: httpx.AsyncClient, county: County
) -> None:
    for path in (
        "/dashboard",
        "/cases",
        f"/cases/{county.cases['A']}",
        "/staff",
        "/exports",
        "/exports/suspected.xlsx",
    ):
        reply = await client.get(path)
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=")


async def test_sessions_expire(client: httpx.AsyncClient, county: County, clock: FixedClock) -> None:
    await login(client, "principal")
    clock.advance(SESSION_TTL)
    assert (await client.get("/dashboard")).status_code == 303


async def test_login_returns_only_to_local_pages(client: httpx.AsyncClient, county: County) -> None:
    form = await client.get("/login")
    reply = await client.post(
        "/login",
        data={
            "username": "principal",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "//evil.example/x",
        },
    )
    assert reply.headers["location"] == "/dashboard"


async def test_teachers_and_cadres_get_no_dashboard_login(
    uow_factory: UnitOfWorkFactory, county: County, client: httpx.AsyncClient
) -> None:
    async with uow_factory() as uow:
        for key in ("teacher_a", "cadre_a"):
            with pytest.raises(NoDashboardAccess):
                await create_user(uow, county.staff[key], f"{key}_login", PASSWORD, now=CREATED)
        with pytest.raises(InvalidInput):
            await create_user(uow, county.staff["principal"], "short", "short", now=CREATED)
        # A login made before the person's role changed to a teacher's no longer opens the dashboard.
        uow.session.add(
            WebUser(
                username="teacher",
                password_hash=hash_password(PASSWORD),
                staff_id=county.staff["teacher_a"].id,
                created_at=CREATED,
            )
        )
        await uow.commit()
    reply = await login(client, "teacher")
    assert reply.status_code == 403 and "没有工作台权限" in reply.text
