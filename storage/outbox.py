"""Queries on the reminder outbox: insert once, claim due rows safely across processes, mark outcomes.

Claiming is one UPDATE ... WHERE id IN (due rows) ... RETURNING statement:
- PostgreSQL: the inner SELECT takes the due rows FOR UPDATE SKIP LOCKED, so two workers never get
  the same row and never wait for each other;
- SQLite: FOR UPDATE is not rendered, but the UPDATE is a single statement and SQLite has one writer
  at a time (the database write lock; busy_timeout makes others queue), and the outer WHERE re-checks
  the state, so a row can only go from pending to claimed once.
Every later change is guarded by the expected state (and, for a claimed row, by the claiming worker),
so a worker that lost its lease cannot overwrite what another worker did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Case, Reminder, Staff, Student
from storage.repositories import _student_in_scope
from storage.scope import Scope

PENDING, CLAIMED, SENT, FAILED = "pending", "claimed", "sent", "failed"
UNREACHABLE, CANCELLED, SKIPPED, BATCHED = "unreachable", "cancelled", "skipped", "batched"
STATES = (PENDING, CLAIMED, SENT, FAILED, UNREACHABLE, CANCELLED, SKIPPED, BATCHED)


async def rows_of_case(session: AsyncSession, case_id: int) -> Sequence[Reminder]:
    q = select(Reminder).where(Reminder.case_id == case_id).order_by(Reminder.id)
    return (await session.scalars(q)).all()


async def get(session: AsyncSession, reminder_id: int) -> Reminder | None:
    return await session.scalar(
        select(Reminder).where(Reminder.id == reminder_id).execution_options(populate_existing=True)
    )


async def by_key(session: AsyncSession, dedupe_key: str) -> Reminder | None:
    return await session.scalar(select(Reminder).where(Reminder.dedupe_key == dedupe_key))


async def by_ids(session: AsyncSession, ids: Iterable[int]) -> Sequence[Reminder]:
    wanted = list(ids)
    if not wanted:
        return []
    q = select(Reminder).where(Reminder.id.in_(wanted)).order_by(Reminder.id)
    return (await session.scalars(q.execution_options(populate_existing=True))).all()


async def insert_once(session: AsyncSession, **values: Any) -> bool:
    """Inserts the row unless its dedupe_key exists (then nothing happens). True when inserted."""
    values.setdefault("state", PENDING)
    values.setdefault("attempts", 0)
    values.setdefault("snoozes", 0)
    values.setdefault("payload", {})
    assert session.bind is not None  # sessions come from make_sessionmaker(engine)
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Reminder).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def change(
    session: AsyncSession,
    reminder_id: int,
    *,
    when_state: str | Sequence[str],
    worker: str | None = None,
    **values: Any,
) -> bool:
    """Updates one row if it is still in `when_state` (and claimed by `worker`, if given)."""
    states = [when_state] if isinstance(when_state, str) else list(when_state)
    q = update(Reminder).where(Reminder.id == reminder_id, Reminder.state.in_(states))
    if worker is not None:
        q = q.where(Reminder.claimed_by == worker)
    result = await session.execute(q.values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


async def change_many(session: AsyncSession, ids: Sequence[int], *, when_state: str, **values: Any) -> int:
    if not ids:
        return 0
    q = update(Reminder).where(Reminder.id.in_(list(ids)), Reminder.state == when_state).values(**values)
    result = await session.execute(q.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _due(r: Any, now: datetime, lease: timedelta) -> Any:
    """Pending rows whose time has come, and claimed rows whose worker's lease ran out."""
    return or_(
        and_(r.state == PENDING, r.send_after <= now), and_(r.state == CLAIMED, r.claimed_at < now - lease)
    )


async def claim_due(
    session: AsyncSession, *, worker: str, now: datetime, lease: timedelta, limit: int, per_recipient: int = 5
) -> list[Reminder]:
    """Claims up to `limit` due direct rows and counts the attempt; the caller commits. Rows are taken
    round-robin over recipients (each person's oldest first, at most `per_recipient` each), so one busy
    chat (one message a second) does not hold up everyone else; rows another worker has locked are
    skipped, so a second worker takes the next ones instead of waiting or coming back empty."""
    ranked_from, locked_from = aliased(Reminder), aliased(Reminder)  # never correlated with the UPDATE
    ranked = (
        select(
            ranked_from.id,
            ranked_from.send_after,
            func.row_number()
            .over(partition_by=ranked_from.recipient_id, order_by=(ranked_from.send_after, ranked_from.id))
            .label("rn"),
        )
        .where(_due(ranked_from, now, lease), ranked_from.channel == "direct")
        .subquery()
    )
    lockable = (
        select(locked_from.id)
        .join(ranked, ranked.c.id == locked_from.id)
        .where(ranked.c.rn <= per_recipient, _due(locked_from, now, lease))
        .order_by(ranked.c.rn, ranked.c.send_after, ranked.c.id)
        .limit(limit)
        .with_for_update(of=locked_from, skip_locked=True)
    )
    # Evaluated once: as a plain IN (subquery) PostgreSQL may rescan it for every updated row, and each
    # rescan skips the rows this statement already changed, claiming far more than `limit`.
    picked = lockable.cte("picked").prefix_with("MATERIALIZED")
    stmt = (
        update(Reminder)
        .where(Reminder.id.in_(select(picked.c.id)), _due(Reminder, now, lease))
        .values(state=CLAIMED, claimed_by=worker, claimed_at=now, attempts=Reminder.attempts + 1)
        .returning(Reminder)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list((await session.scalars(stmt)).all())
    return sorted(rows, key=lambda r: (r.send_after, r.id))


async def due_digest_items(session: AsyncSession, now: datetime) -> dict[int, list[Reminder]]:
    """Pending digest items that are due, by recipient."""
    q = (
        select(Reminder)
        .where(Reminder.channel == "digest", Reminder.state == PENDING, Reminder.due_at <= now)
        .order_by(Reminder.recipient_id, Reminder.due_at, Reminder.id)
    )
    found: dict[int, list[Reminder]] = {}
    for row in (await session.scalars(q)).all():
        found.setdefault(row.recipient_id, []).append(row)
    return found


async def case_ids_to_plan(session: AsyncSession) -> list[int]:
    """Open cases, and closed ones that still have pending reminders (to cancel them)."""
    open_ids = select(Case.id).where(Case.status != "closed")
    pending = select(Reminder.case_id).where(Reminder.state == PENDING, Reminder.case_id.is_not(None))
    q = select(Case.id).where(or_(Case.id.in_(open_ids), Case.id.in_(pending))).order_by(Case.id)
    return list((await session.scalars(q)).all())


async def case_ids_updated_since(session: AsyncSession, since: datetime) -> list[int]:
    q = select(Case.id).where(Case.updated_at >= since).order_by(Case.id)
    return list((await session.scalars(q)).all())


async def log(
    session: AsyncSession,
    scope: Scope,
    *,
    case_id: int | None = None,
    states: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> Sequence[tuple[Reminder, Staff, Case | None]]:
    """Reminder rows visible to `scope` (about its cases, or addressed to the person), newest first."""
    q = (
        select(Reminder, Staff, Case)
        .join(Staff, Staff.id == Reminder.recipient_id)
        .outerjoin(Case, Case.id == Reminder.case_id)
        .outerjoin(Student, Student.id == Case.student_id)
    )
    if not scope.everything:
        q = q.where(
            or_(and_(Case.id.is_not(None), _student_in_scope(scope)), Reminder.recipient_id == scope.staff_id)
        )
    if case_id is not None:
        q = q.where(Reminder.case_id == case_id)
    if states:
        q = q.where(Reminder.state.in_(list(states)))
    if kinds:
        q = q.where(Reminder.kind.in_(list(kinds)))
    if since is not None:
        q = q.where(Reminder.due_at >= since)
    rows = await session.execute(q.order_by(Reminder.due_at.desc(), Reminder.id.desc()).limit(limit))
    return [(r, s, c) for r, s, c in rows.all()]


async def counts_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Reminder.state, func.count()).group_by(Reminder.state))
    return {state: int(n) for state, n in rows.all()}
