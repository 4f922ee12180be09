"""Single-use, expiring invite codes that bind a Telegram account to a staff record."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from domain.audit import Actor, audit
from domain.errors import InviteInvalid, NotFound
from domain.people.language import remember_reported
from storage.models import Invite, Staff, TelegramBinding
from storage.uow import UnitOfWork

# Telegram deep-link payloads allow A-Z, a-z, 0-9, _ and - up to 64 characters.
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


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
    telegram_user_id: int,
    chat_id: int,
    reported_language: str | None,
    now: datetime,
) -> Staff:
    """Binds the Telegram account to the invited staff member; raises InviteInvalid(unknown|used|expired).
    The language the client reports is remembered on the person (domain.people.language) from this first contact."""
    actor = Actor(staff_id=None, label=f"telegram:{telegram_user_id}", source="telegram")
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
    other = await uow.directory.binding_for_telegram(telegram_user_id)
    if other is not None and other.staff_id != staff.id:
        audit(uow, actor, now, "invite_rejected", "invite", invite.id, reason="account_bound_elsewhere")
        raise InviteInvalid("account_bound_elsewhere")
    binding = await uow.directory.binding_for_staff(staff.id)
    if binding is None:
        uow.session.add(
            TelegramBinding(
                staff_id=staff.id,
                telegram_user_id=telegram_user_id,
                chat_id=chat_id,
                bound_at=now,
            )
        )
    else:  # a new phone or account: the new invite replaces the old binding
        binding.telegram_user_id, binding.chat_id, binding.bound_at = telegram_user_id, chat_id, now
        binding.unreachable_since = None
    invite.used_at = now
    invite.used_by_telegram_id = telegram_user_id
    staff.last_active_at = now
    remember_reported(staff, reported_language)
    audit(uow, Actor(staff.id, actor.label, "telegram"), now, "bind", "staff", staff.id)
    await uow.flush()
    return staff
