"""Who did what: helpers that write the audit log in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Actor:
    """The person (or process) acting, and the channel it came through."""

    staff_id: int | None
    label: str  # "<channel>:<account>", "web:alice", "cli"
    source: str | None = None  # channel or client IP

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(staff_id=None, label=label)


def audit(
    uow: UnitOfWork,
    actor: Actor,
    at: datetime,
    action: str,
    entity: str,
    entity_id: object = None,
    **detail: Any,
) -> None:
    """Appends an audit entry; never put names, ID numbers or addresses in `detail`."""
    uow.audit.record(
        at=at,
        actor_id=actor.staff_id,
        actor_label=actor.label,
        action=action,
        entity=entity,
        entity_id=entity_id,
        source=actor.source,
        detail=detail,
    )
