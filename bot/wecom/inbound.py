"""WeCom's callbacks in the inbox: stored as they arrive (channel "wecom", bot id = the agent id,
update id = MsgId, or for events a stable number from sender, time, event and key), and read back as
typed messages for the step that turns them into form answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.uow import UnitOfWork

CHANNEL = "wecom"
_MAX_ID = 2**63 - 1  # inbox.update_id is a signed 64-bit integer


@dataclass(frozen=True)
class Inbound:
    """What every message and event has: who sent it and when (CreateTime)."""

    sender: str  # FromUserName: the member's userid
    sent_at: datetime


@dataclass(frozen=True)
class Text(Inbound):
    content: str


@dataclass(frozen=True)
class Image(Inbound):
    media_id: str  # download with WeComClient.download_media (valid 3 days)


@dataclass(frozen=True)
class Location(Inbound):
    """A location message, or the LOCATION event (which has no label)."""

    lat: float
    lon: float
    label: str


@dataclass(frozen=True)
class CardTap(Inbound):
    task_id: str
    event_key: str  # the tapped button's key
    response_code: str  # updates the card once, within 72 h


@dataclass(frozen=True)
class Enter(Inbound):
    """The member opened the app (enter_agent)."""


@dataclass(frozen=True)
class OtherEvent(Inbound):
    event: str


@dataclass(frozen=True)
class Unsupported(Inbound):
    """A message type the forms do not take (voice, video, file, link…)."""

    msg_type: str


@dataclass(frozen=True)
class Pending:
    update_id: int  # to forget it once handled
    message: Inbound
    attempts: int = 0  # tries that failed before (for the backoff)


def update_id_of(fields: dict[str, str]) -> int:
    """MsgId for a message; for an event, which has none, the first 8 bytes of a SHA-256 of sender, time,
    event, key and card task (a key like "yes" repeats across cards), masked to 63 bits."""
    msg_id = fields.get("MsgId", "")
    if msg_id.isdigit() and int(msg_id) <= _MAX_ID:
        return int(msg_id)
    parts = [fields.get(k, "") for k in ("FromUserName", "CreateTime", "Event", "EventKey", "TaskId")]
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") & _MAX_ID


async def keep(uow: UnitOfWork, fields: dict[str, str], at: datetime, agent_id: int) -> bool:
    """Stores a decrypted callback; False when it was stored before (WeCom delivering it again)."""
    bot_id = int(fields["AgentID"]) if fields.get("AgentID", "").isdigit() else agent_id
    message = typed(fields)
    new = await uow.inbox.keep(
        {update_id_of(fields): fields},
        at,
        channel=CHANNEL,
        bot_id=bot_id,
        sender=message.sender[:64],
        sent_at=message.sent_at,
    )
    if new:  # the member wrote again: a reply that failed before is tried now, not after its backoff
        await uow.inbox.hasten(channel=CHANNEL, bot_id=bot_id, sender=message.sender[:64])
    return bool(new)


async def pending(uow: UnitOfWork, agent_id: int) -> list[Pending]:
    """The app's callbacks not yet handled, typed, in the order they were sent (CreateTime: an event's
    update id is a hash, so the inbox's own order is not the members' order)."""
    payloads = await uow.inbox.waiting(channel=CHANNEL, bot_id=agent_id)
    waiting = [Pending(update_id_of(p), typed(p)) for p in payloads]
    return sorted(waiting, key=lambda p: p.message.sent_at)


async def claim(
    uow: UnitOfWork, agent_id: int, holder: str, *, now: datetime, until: datetime, limit: int
) -> list[Pending]:
    """Claims the oldest waiting callback of up to `limit` members (see storage.inbox.UpdateInbox.claim);
    the caller commits."""
    rows = await uow.inbox.claim(
        channel=CHANNEL, bot_id=agent_id, holder=holder, now=now, until=until, limit=limit
    )
    return [Pending(r.update_id, typed(r.payload), r.attempts) for r in rows]


async def forget(uow: UnitOfWork, agent_id: int, update_ids: list[int]) -> None:
    """Deletes handled callbacks from the inbox."""
    await uow.inbox.forget(update_ids, channel=CHANNEL, bot_id=agent_id)


def typed(fields: dict[str, str]) -> Inbound:
    """The typed message of a stored callback."""
    created = fields.get("CreateTime", "0")
    base = (
        fields.get("FromUserName", ""),
        datetime.fromtimestamp(int(created) if created.isdigit() else 0, UTC),
    )
    msg_type, event = fields.get("MsgType", ""), fields.get("Event", "")
    if msg_type == "text":
        return Text(*base, content=fields.get("Content", ""))
    if msg_type == "image":
        return Image(*base, media_id=fields.get("MediaId", ""))
    if msg_type == "location" and (at := _point(fields, "Location_X", "Location_Y")):
        return Location(*base, *at, label=fields.get("Label", ""))
    if msg_type != "event":
        return Unsupported(*base, msg_type=msg_type)
    if event == "template_card_event":
        return CardTap(
            *base, fields.get("TaskId", ""), fields.get("EventKey", ""), fields.get("ResponseCode", "")
        )
    if event == "LOCATION" and (at := _point(fields, "Latitude", "Longitude")):
        return Location(*base, *at, label="")
    if event == "enter_agent":
        return Enter(*base)
    return OtherEvent(*base, event=event)


def _point(fields: dict[str, str], lat: str, lon: str) -> tuple[float, float] | None:
    """Latitude and longitude, or None unless both are numbers in range."""
    try:
        point = float(fields.get(lat, "")), float(fields.get(lon, ""))
    except ValueError:
        return None
    return point if abs(point[0]) <= 90 and abs(point[1]) <= 180 else None
