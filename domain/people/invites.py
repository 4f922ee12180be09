"""Single-use, expiring invite codes that bind a chat account (any channel) to a staff record."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from domain.audit import Actor, audit
from domain.errors import InviteInvalid, NotFound
from domain.people.language import remember_reported
from storage.models import ChannelAccount, Invite, Staff
from storage.uow import UnitOfWork

# Codes travel in chat start links, whose payloads allow A-Z, a-z, 0-9, _ and - up to 64 characters.
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def looks_like_code(text: str) -> bool:
    """Whether the text has an invite code's shape (a chat that takes a typed code tries only those)."""
    return bool(_CODE_SHAPE.match(text))


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


async def create_invite(
    uow: UnitOfWork, staff_id: int, actor: Actor, *, now: datetime, ttl: timedelta
) -> str:
    """Creates an invite for one staff member and returns the plain code (only its hash is kept)."""
    staff = await uow.directory.staff(staff_id)
    if staff is None or not staff.active:
        raise NotFound(f"staff {staff_id}")
    code = secrets.token_urlsafe(18)  # 24 characters, 144 bits
    uow.session.add(
        Invite(staff_id=staff.id, code_hash=hash_code(code), created_at=now, expires_at=now + ttl)
    )
    audit(uow, actor, now, "invite", "staff", staff.id)
    await uow.flush()
    return code


async def redeem_invite(
    uow: UnitOfWork,
    code: str,
    *,
    channel: str,
    account: str,
    conversation: str,
    reported_language: str | None,
    now: datetime,
) -> Staff:
    """Binds the channel account to the invited staff member; raises InviteInvalid(unknown|used|expired|
    account_bound_elsewhere). One account per channel per person: a new invite on the same channel (a new
    phone) replaces the old account, one on another channel adds it. The language the client reports is
    remembered on the person (domain.people.language) from this first contact."""
    label = f"{channel}:{account}"
    actor = Actor(staff_id=None, label=label, source=channel)
    invite = await uow.invites.by_hash(hash_code(code)) if _CODE_SHAPE.match(code) else None
    if invite is None:
        audit(uow, actor, now, "invite_rejected", "invite", None, reason="unknown")
        raise InviteInvalid("unknown")
    if invite.used_at is not None:
        audit(uow, actor, now, "invite_rejected", "invite", invite.id, reason="used")
        raise InviteInvalid("used")
    if invite.expires_at <= now:
        audit(uow, actor, now, "invite_rejected", "invite", invite.id, reason="expired")
        raise InviteInvalid("expired")
    staff = await uow.directory.staff(invite.staff_id)
    if staff is None or not staff.active:
        raise InviteInvalid("unknown")
    other = await uow.directory.account(channel, account)
    if other is not None and other.staff_id != staff.id:
        audit(uow, actor, now, "invite_rejected", "invite", invite.id, reason="account_bound_elsewhere")
        raise InviteInvalid("account_bound_elsewhere")
    bound = next((a for a in await uow.directory.accounts_of(staff.id) if a.channel == channel), None)
    if bound is None:
        uow.session.add(
            ChannelAccount(
                staff_id=staff.id, channel=channel, account=account, conversation=conversation, bound_at=now
            )
        )
    else:  # a new phone or account on this channel: the new invite replaces the old binding
        bound.account, bound.conversation, bound.bound_at = account, conversation, now
        bound.unreachable_since = None
    invite.used_at = now
    invite.used_by_account = label
    staff.last_active_at = now
    remember_reported(staff, reported_language)
    audit(uow, Actor(staff.id, label, channel), now, "bind", "staff", staff.id)
    await uow.flush()
    return staff
