"""Login flood, enumeration and lock-out abuse (issue 15): one answer for unknown, wrong and held back,
the lock-out per (username, address) with doubling delays, the per-address and queue throttles (429 with
Retry-After), and argon2 off the event loop."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select

from app.container import Services
from domain.clock import FixedClock
from domain.people import webauth
from domain.people.webauth import MAX_FAILED_LOGINS, LoginRefused, held_until
from storage.models import LoginFailure
from tests.waiting import until
from tests.web.conftest import login
from tests.web.county import PASSWORD, County
from web import login_throttle
from web.app import create_app
from web.deps import WebConfig

_CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]+"')
ADDRESS_A, ADDRESS_B = "203.0.113.5", "198.51.100.7"


class _CountingHasher(PasswordHasher):
    """Cheap argon2 that counts its verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


class _BlockingHasher(PasswordHasher):
    """verify() waits until the test releases it, noting which threads ran it and how many at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.running = self.most = 0
        self.threads: set[int] = set()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
        try:
            self.release.wait(timeout=60)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def page(reply: httpx.Response) -> tuple[int, str]:
    """Status and body, without the form's fresh CSRF token."""
    return reply.status_code, _CSRF_FIELD.sub("", reply.text)


async def test_unknown_user_wrong_password_and_held_back_get_the_same_answer_and_one_argon2_each(
    client: httpx.AsyncClient, county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = _CountingHasher()
    monkeypatch.setattr(webauth, "_hasher", hasher)
    monkeypatch.setattr(webauth, "_DUMMY_HASH", hasher.hash("dummy"))

    async def attempt(username: str, password: str) -> tuple[int, str]:
        before = hasher.verified
        reply = await login(client, username, password)
        assert hasher.verified == before + 1, "every answer costs one argon2 verification"
        return page(reply)

    wrong = await attempt("principal", "not the password")
    unknown = await attempt("nobody_here", "not the password")
    for _ in range(MAX_FAILED_LOGINS):
        await attempt("township", "guess")
    held = await attempt("township", PASSWORD)  # the right password, from an address held back
    assert wrong == unknown == held
    assert wrong[0] == 401 and "用户名或密码不正确" in wrong[1]


async def test_a_lock_out_from_one_address_does_not_keep_the_real_user_out_at_another(
    app: FastAPI, county: County, services: Services
) -> None:
    async with client_at(app, ADDRESS_A) as attacker, client_at(app, ADDRESS_B) as coordinator:
        for _ in range(MAX_FAILED_LOGINS + 2):
            assert (await login(attacker, "county", "guess")).status_code == 401
        assert (await login(attacker, "county")).status_code == 401  # held back at A
        assert (await login(coordinator, "county")).status_code == 303
    async with services.uow() as uow:
        rows = (await uow.session.scalars(select(LoginFailure))).all()
    # attempts while held back are not counted, so waiting out the delay is enough
    assert [(r.address, r.failures) for r in rows] == [(ADDRESS_A, MAX_FAILED_LOGINS)]
    assert rows[0].username_key != "county"  # a hash: typed usernames are not stored


async def _attempt(services: Services, username: str, password: str) -> bool:
    async with services.uow() as uow:
        try:
            await webauth.login(uow, username, password, now=services.clock.now(), ip=ADDRESS_A)
        except LoginRefused:
            await uow.commit()
            return False
        await uow.commit()
        return True


async def test_the_delay_after_repeated_failures_doubles_and_a_success_clears_it(
    services: Services, county: County, clock: FixedClock
) -> None:
    second = timedelta(seconds=1)
    for _ in range(MAX_FAILED_LOGINS):
        assert not await _attempt(services, "principal", "guess")
    for delay in (timedelta(minutes=1), timedelta(minutes=2)):
        clock.advance(delay - second)
        assert not await _attempt(services, "principal", PASSWORD)  # still held: not even the right one
        clock.advance(2 * second)
        assert not await _attempt(services, "principal", "guess")  # counted: the next delay doubles
    clock.advance(timedelta(minutes=4) - second)
    assert not await _attempt(services, "principal", PASSWORD)
    clock.advance(2 * second)
    assert await _attempt(services, "principal", PASSWORD)
    for _ in range(MAX_FAILED_LOGINS - 1):  # the success started the count again
        assert not await _attempt(services, "principal", "guess")
    assert await _attempt(services, "principal", PASSWORD)


def test_delays_start_at_one_minute_and_stop_at_fifteen() -> None:
    t = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)
    assert held_until(MAX_FAILED_LOGINS - 1, t) is None
    delays = [held_until(n, t) for n in range(MAX_FAILED_LOGINS, MAX_FAILED_LOGINS + 6)]
    assert [(d - t).total_seconds() / 60 for d in delays if d] == [1, 2, 4, 8, 15, 15]
    assert held_until(10_000, t) == t + timedelta(minutes=15)


async def test_too_many_attempts_from_one_address_are_answered_429_with_retry_after(
    app: FastAPI, county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(login_throttle, "monotonic", lambda: now[0])
    per_minute = WebConfig().login_attempts_per_minute
    async with client_at(app, ADDRESS_A) as a, client_at(app, ADDRESS_B) as b:
        for _ in range(per_minute):
            assert (await login(a, "nobody_here", "guess")).status_code == 401
        throttled = await login(a, "principal")
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "6"
        assert "登录尝试过于频繁，请 6 秒后再试" in throttled.text
        assert (await login(b, "principal")).status_code == 303  # another address is not affected
        now[0] += 6
        assert (await login(a, "nobody_here", "guess")).status_code == 401
        await a.get("/login?lang=en")
        english = await login(a, "nobody_here", "guess")
        assert english.status_code == 429 and "try again in 6 seconds" in english.text


async def test_password_checks_run_off_the_event_loop_two_at_a_time_behind_a_bounded_queue(
    services: Services, county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = _BlockingHasher()
    monkeypatch.setattr(webauth, "_hasher", hasher)
    app = create_app(services, web=WebConfig(login_waiting=2))
    loop_thread = threading.get_ident()

    async def attempt(n: int) -> httpx.Response:
        async with client_at(app, f"192.0.2.{n}") as c:
            return await login(c, f"user{n}", "guess")

    queued = [asyncio.create_task(attempt(n)) for n in range(4)]
    try:
        await until(
            lambda: hasher.running == 2 and app.state.login_throttle.in_flight == 4,
            "two password checks hashing and two queued",
        )
        async with client_at(app, "127.0.0.1") as other:  # the loop stays free meanwhile
            assert (await other.get("/healthz")).status_code == 200
            assert (await other.get("/login")).status_code == 200
        busy = await attempt(5)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    finally:
        hasher.release.set()
        answers = await asyncio.gather(*queued)
    assert [a.status_code for a in answers] == [401] * 4
    assert hasher.most == 2 and loop_thread not in hasher.threads


async def test_a_demo_password_reset_clears_the_hold_on_the_demo_login(
    services: Services, county: County
) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        assert not await _attempt(services, "principal", "guess")
    async with services.uow() as uow:
        password = await webauth.reset_demo_login(
            uow, county.staff["principal"], "principal", now=services.clock.now()
        )
        await uow.commit()
    assert await _attempt(services, "principal", password)
