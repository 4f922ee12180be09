"""Dashboard logins: argon2 passwords, lock-out, server-side sessions and API bearer tokens."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.audit import Actor, audit
from domain.errors import DomainError, InvalidInput
from domain.people.language import language_of
from domain.people.roles import DASHBOARD_ROLES, Role
from i18n import DEFAULT_LANGUAGE
from storage.login_failures import LoginFailureRepository
from storage.models import ApiToken, Staff, WebSession, WebUser
from storage.uow import UnitOfWork
from storage.webaccess import WebAccessRepository

# Lock-out per (username, client address): after this many failures from one address that address
# waits FIRST_DELAY, then twice as long after each further failure, up to MAX_DELAY. Another address
# (the real user at school) is not held back, so nobody can keep a coordinator locked out.
MAX_FAILED_LOGINS = 5
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(minutes=15)
FAILURES_KEPT = timedelta(days=1)  # a day without failures and the count starts again
SESSION_TTL = timedelta(hours=8)  # one working day; the cookie dies with the session row
MIN_PASSWORD_LENGTH = 10
API_TOKEN_TTL = timedelta(days=90)  # the default of API_TOKEN_TTL_DAYS
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
_hasher = PasswordHasher()
# Verified when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not-one-less-timing-equaliser")
# argon2 takes ~0.2 s of CPU (its lanes in threads of their own) and releases the GIL: it runs in
# these threads, never on the event loop that also serves the bot and the scheduler, and never more
# than HASH_THREADS at once per process.
HASH_THREADS = 2
HASH_NICENESS = 10  # a login flood must not take the CPU from the bot: the loop thread goes first


def _lower_priority() -> None:
    """Linux schedules threads one by one (nice is per thread, inherited by argon2's lane threads);
    elsewhere it would slow the whole process, so it is left alone."""
    if sys.platform == "linux":
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)
        except OSError:  # e.g. a sandbox forbidding it: hashing still works, only at normal priority
            pass


_hash_pool = ThreadPoolExecutor(
    max_workers=HASH_THREADS, thread_name_prefix="argon2", initializer=_lower_priority
)


class LoginRefused(DomainError):
    """Unknown username, wrong password, or this address held back after repeated failures: one answer
    for all three, so neither the answer nor its timing tells which usernames exist."""


class NoDashboardAccess(DomainError):
    """Teachers and village cadres work in chat only; the dashboard is for coordinators."""


@dataclass(frozen=True)
class WebIdentity:
    """Who is behind a session or token: the login (if any), the staff member, the session."""

    staff: Staff
    user: WebUser | None
    session: WebSession | None
    token_name: str | None = None

    @property
    def can_export_pii(self) -> bool:
        return bool(self.user and self.user.can_export_pii)

    @property
    def actor(self) -> Actor:
        label = f"web:{self.user.username}" if self.user else f"api:{self.token_name or self.staff.id}"
        return Actor(staff_id=self.staff.id, label=label[:64])


def token_hash(token: str) -> str:
    """Session ids and API tokens are random, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _hash_pool, verify_password, password_hash, password
    )


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hash_pool, hash_password, password)


def username_key(username: str) -> str:
    """What the lock-out counts failures under: a hash, so typed usernames (or passwords typed into the
    username field) are not stored."""
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def held_until(failures: int, last_failed_at: datetime) -> datetime | None:
    """Until when an address must wait after `failures` failures, the last at `last_failed_at`."""
    if failures < MAX_FAILED_LOGINS:
        return None
    doublings = min(failures - MAX_FAILED_LOGINS, 10)  # 2**10 minutes is far past the cap
    return last_failed_at + min(MAX_DELAY, FIRST_DELAY * 2**doublings)


def has_dashboard_access(staff: Staff) -> bool:
    return staff.active and Role(staff.role) in DASHBOARD_ROLES


def check_new_password(password: str) -> None:
    """The one rule for every new password: long enough (a passphrase beats a clever short one)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password_too_short", minimum=MIN_PASSWORD_LENGTH)


async def logins_disabled(uow: UnitOfWork, staff_id: int) -> bool:
    """Whether the staff member has dashboard logins and every one is disabled: their API access ends
    with them (a token belongs to the staff member, who may or may not have a login)."""
    logins = await WebAccessRepository(uow.session).logins_of_staff(staff_id)
    return bool(logins) and not any(user.active for user in logins)


async def create_user(
    uow: UnitOfWork,
    staff: Staff,
    username: str,
    password: str,
    *,
    now: datetime,
    can_export_pii: bool = False,
    actor: Actor | None = None,
) -> WebUser:
    """Creates a dashboard login for a principal, officer or admin; the caller commits."""
    repo = WebAccessRepository(uow.session)
    if not _USERNAME.match(username):
        raise InvalidInput("username", value=username)
    check_new_password(password)
    if not has_dashboard_access(staff):
        raise NoDashboardAccess(
            f"role {staff.role} has no dashboard access (teachers and village cadres use the chat bot)"
        )
    if await repo.user_by_username(username) is not None:
        raise InvalidInput("username_taken", value=username)
    user = WebUser(
        username=username,
        password_hash=hash_password(password),
        staff_id=staff.id,
        can_export_pii=can_export_pii,
        active=True,
        failed_logins=0,
        created_at=now,
    )
    repo.add(user)
    await uow.flush()
    audit(uow, actor or Actor.system("cli"), now, "create", "web_user", user.id, pii=can_export_pii)
    return user


async def login(
    uow: UnitOfWork,
    username: str,
    password: str,
    *,
    now: datetime,
    ip: str | None,
    language: str | None = None,
    default_language: str = DEFAULT_LANGUAGE,
) -> tuple[str, WebIdentity]:
    """Checks the password and opens a session; returns (cookie token, identity). The session's language
    is the person's (domain.people.language), `language` being what the browser asks for. The caller commits,
    also when LoginRefused is raised, so failed attempts are counted. Unknown user, wrong password and
    an address held back all run one argon2 verify and raise the same LoginRefused."""
    name, address = username.strip(), (ip or "")[:64]
    failures = LoginFailureRepository(uow.session)
    key = username_key(name)
    row = await failures.get(key, address)
    until = held_until(row.failures, row.last_failed_at) if row is not None else None
    held = until is not None and until > now
    repo = WebAccessRepository(uow.session)
    user = await repo.user_by_username(name)
    known = user is not None and user.active
    checked = user.password_hash if user is not None and known else _DUMMY_HASH
    matches = await verify_password_off_loop(checked, password)
    actor = Actor(staff_id=user.staff_id if user else None, label=f"web:{name[:60]}", source=ip)
    if held or user is None or not known or not matches:
        target = user.id if user else None
        if held:  # not counted: waiting out the delay must be enough
            audit(uow, actor, now, "login_failed", "web_user", target, held=True)
            raise LoginRefused("login refused")
        await failures.forget_before(now - FAILURES_KEPT)
        count = await failures.record(key, address, now)
        action = "locked" if count >= MAX_FAILED_LOGINS else "login_failed"
        audit(uow, actor, now, action, "web_user", target, failures=count)
        raise LoginRefused("login refused")
    staff = await uow.directory.staff(user.staff_id)
    if staff is None or not has_dashboard_access(staff):
        audit(uow, actor, now, "denied", "dashboard", user.id)
        raise NoDashboardAccess(username)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password_off_loop(password)
    await failures.clear(key, address)
    user.last_login_at = now
    await repo.delete_expired_sessions(user.id, now)
    token = secrets.token_urlsafe(32)
    session = WebSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        language=language_of(staff, reported=language, default=default_language),
        created_at=now,
        expires_at=now + SESSION_TTL,
        ip=(ip or "")[:64] or None,
    )
    repo.add(session)
    audit(uow, actor, now, "login", "web_user", user.id)
    await uow.flush()
    return token, WebIdentity(staff=staff, user=user, session=session)


async def identify_session(uow: UnitOfWork, token: str, now: datetime) -> WebIdentity | None:
    """The identity behind a session cookie, or None when unknown, expired or no longer allowed."""
    repo = WebAccessRepository(uow.session)
    session = await repo.session_by_hash(token_hash(token))
    if session is None or session.expires_at <= now:
        return None
    user = await repo.user(session.user_id)
    if user is None or not user.active:
        return None
    staff = await uow.directory.staff(user.staff_id)
    return WebIdentity(staff=staff, user=user, session=session) if staff is not None else None


async def logout(uow: UnitOfWork, identity: WebIdentity, now: datetime) -> None:
    """Deletes the session row, so the cookie is worthless even if it was copied."""
    if identity.session is not None:
        await WebAccessRepository(uow.session).delete(identity.session)
    audit(uow, identity.actor, now, "logout", "web_user", identity.user.id if identity.user else None)


async def create_api_token(
    uow: UnitOfWork,
    staff: Staff,
    name: str,
    *,
    now: datetime,
    ttl: timedelta = API_TOKEN_TTL,
    actor: Actor | None = None,
) -> str:
    """A new bearer token for an integration, valid for `ttl`; only its hash is kept, so it is shown once."""
    if not has_dashboard_access(staff):
        raise NoDashboardAccess(f"role {staff.role} has no dashboard access")
    if await logins_disabled(uow, staff.id):
        raise NoDashboardAccess(f"staff {staff.id}: every dashboard login of theirs is disabled")
    token = "nol_" + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=token_hash(token),
        staff_id=staff.id,
        name=name[:100],
        created_at=now,
        expires_at=now + ttl,
    )
    WebAccessRepository(uow.session).add(row)
    await uow.flush()
    audit(
        uow,
        actor or Actor.system("cli"),
        now,
        "create",
        "api_token",
        row.id,
        expires=row.expires_at.isoformat(),
    )
    return token


async def identify_token(uow: UnitOfWork, token: str, now: datetime) -> WebIdentity | None:
    """The staff member behind a bearer token (and marks it used), or None when it is unknown, revoked,
    expired, or its staff member has left or had their dashboard logins disabled."""
    row = await WebAccessRepository(uow.session).token_by_hash(token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    staff = await uow.directory.staff(row.staff_id)
    if staff is None or not staff.active or await logins_disabled(uow, staff.id):
        return None
    row.last_used_at = now
    return WebIdentity(staff=staff, user=None, session=None, token_name=row.name)


async def reset_demo_login(uow: UnitOfWork, staff: Staff, username: str, *, now: datetime) -> str:
    """The demo county's dashboard login with a fresh random password (demo data only; never fixed)."""
    password = secrets.token_urlsafe(9)
    user = await WebAccessRepository(uow.session).user_by_username(username)
    if user is None:
        await create_user(uow, staff, username, password, now=now, actor=Actor.system("demo"))
    else:
        user.password_hash, user.failed_logins, user.locked_until = hash_password(password), 0, None
        await LoginFailureRepository(uow.session).clear(username_key(username))
        audit(uow, Actor.system("demo"), now, "update", "web_user", user.id, password_reset=True)
    return password
