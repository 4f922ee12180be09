"""The life of a credential after it is made: list, disable and enable logins, change passwords, list
and revoke API tokens. Every change ends what it must at once (sessions, tokens) and is audited.
The caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.audit import Actor, audit
from domain.errors import InvalidInput
from domain.people.webauth import check_new_password, hash_password
from storage.models import WebUser
from storage.uow import UnitOfWork
from storage.webaccess import WebAccessRepository


@dataclass(frozen=True)
class LoginSummary:
    """One dashboard login as the operator sees it: never its password hash."""

    username: str
    staff_id: int
    staff_name: str
    phone: str
    role: str
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    live_tokens: int  # the staff member's API tokens neither revoked nor expired


@dataclass(frozen=True)
class TokenSummary:
    """One API token as the operator sees it: never the token or its hash."""

    id: int
    name: str
    staff_id: int
    staff_name: str
    phone: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: str  # "active", "expired" or "revoked"


@dataclass(frozen=True)
class Ended:
    """What a disable or password change ended: sessions deleted, tokens revoked."""

    sessions: int
    tokens: int


async def list_logins(uow: UnitOfWork, now: datetime) -> list[LoginSummary]:
    repo = WebAccessRepository(uow.session)
    live = await repo.live_token_counts(now)
    return [
        LoginSummary(
            username=user.username,
            staff_id=staff.id,
            staff_name=staff.name,
            phone=staff.phone,
            role=staff.role,
            active=user.active,
            locked_until=user.locked_until if user.locked_until and user.locked_until > now else None,
            last_login_at=user.last_login_at,
            live_tokens=live.get(staff.id, 0),
        )
        for user, staff in await repo.users_with_staff()
    ]


async def _login(repo: WebAccessRepository, username: str) -> WebUser:
    user = await repo.user_by_username(username.strip())
    if user is None:
        raise InvalidInput("unknown_login", value=username)
    return user


async def disable_login(uow: UnitOfWork, username: str, *, now: datetime, actor: Actor) -> Ended:
    """The login stops working now: its sessions are deleted and its staff member's API tokens revoked
    (tokens belong to the staff member; someone whose login is disabled keeps no API access either)."""
    repo = WebAccessRepository(uow.session)
    user = await _login(repo, username)
    user.active = False
    ended = Ended(
        sessions=await repo.delete_sessions(user.id),
        tokens=await repo.revoke_tokens_of_staff(user.staff_id, now),
    )
    audit(uow, actor, now, "disable", "web_user", user.id, sessions=ended.sessions, tokens=ended.tokens)
    return ended


async def enable_login(uow: UnitOfWork, username: str, *, now: datetime, actor: Actor) -> None:
    """The login works again with its old password (the lock-out is cleared); revoked tokens stay
    revoked: make new ones."""
    repo = WebAccessRepository(uow.session)
    user = await _login(repo, username)
    user.active, user.failed_logins, user.locked_until = True, 0, None
    audit(uow, actor, now, "enable", "web_user", user.id)


async def change_password(
    uow: UnitOfWork, username: str, password: str, *, now: datetime, actor: Actor
) -> Ended:
    """Sets a new password and deletes every session of the login, so whoever held the old password (or
    a copied cookie) is out. The lock-out is cleared."""
    repo = WebAccessRepository(uow.session)
    user = await _login(repo, username)
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    ended = Ended(sessions=await repo.delete_sessions(user.id), tokens=0)
    audit(uow, actor, now, "update", "web_user", user.id, password_changed=True, sessions=ended.sessions)
    return ended


def token_state(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> str:
    if revoked_at is not None:
        return "revoked"
    return "expired" if expires_at <= now else "active"


async def list_tokens(uow: UnitOfWork, now: datetime, *, staff_id: int | None = None) -> list[TokenSummary]:
    rows = await WebAccessRepository(uow.session).tokens_with_staff(staff_id)
    return [
        TokenSummary(
            id=token.id,
            name=token.name,
            staff_id=staff.id,
            staff_name=staff.name,
            phone=staff.phone,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            state=token_state(token.revoked_at, token.expires_at, now),
        )
        for token, staff in rows
    ]


async def revoke_token(uow: UnitOfWork, token_id: int, *, now: datetime, actor: Actor) -> bool:
    """Revokes one token; False when it was revoked already (nothing changes then)."""
    token = await WebAccessRepository(uow.session).token(token_id)
    if token is None:
        raise InvalidInput("unknown_token", value=token_id)
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    audit(uow, actor, now, "revoke", "api_token", token.id)
    return True


async def revoke_tokens_of_staff(uow: UnitOfWork, staff_id: int, *, now: datetime, actor: Actor) -> int:
    """Revokes every token of a staff member (a leaked laptop, a finished integration)."""
    count = await WebAccessRepository(uow.session).revoke_tokens_of_staff(staff_id, now)
    if count:
        audit(uow, actor, now, "revoke", "api_token", None, staff_id=staff_id, tokens=count)
    return count
