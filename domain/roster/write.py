"""Writes a checked roster in the caller's transaction: creates new rows, updates changed ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select

from domain.audit import Actor, audit
from domain.roster.format import (
    AREA_ROLE_LEVEL,
    LEVEL_ORDER,
    SCHOOL_ROLES,
    ImportSummary,
    RosterData,
    RosterInvalid,
    RosterProblem,
)
from domain.roster.resolve import Snapshot
from storage.models import Area, ChannelAccount, School, SchoolClass, Staff, TeachingAssignment
from storage.uow import UnitOfWork

CHUNK = 1000  # rows per query and flush: keeps IN lists well under SQLite's parameter limit
T = TypeVar("T")
Progress = Callable[[str, int, int], None]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sync_fields(row: Any, values: dict[str, Any]) -> list[str]:
    """Sets the values that differ and returns their field names (nothing changes when equal)."""
    changed = [k for k, v in values.items() if getattr(row, k) != v]
    for k in changed:
        setattr(row, k, values[k])
    return changed


class RosterWriter:
    """One import's writes; `summary` counts created, updated and unchanged rows per sheet."""

    def __init__(
        self,
        uow: UnitOfWork,
        data: RosterData,
        snap: Snapshot,
        *,
        now: datetime,
        actor: Actor,
        progress: Progress | None,
        account_channel: str | None = None,
    ) -> None:
        self.uow, self.s, self.data, self.snap = uow, uow.session, data, snap
        self.now, self.actor, self.progress = now, actor, progress
        self.account_channel = account_channel  # the chat channel of the staff sheet's account column
        self.summary = ImportSummary()

    def count(self, key: str, created: bool, changed: list[str]) -> None:
        bucket = (
            self.summary.created if created else self.summary.updated if changed else self.summary.unchanged
        )
        bucket[key] += 1

    def report(self, key: str, done: int, total: int) -> None:
        if self.progress and total:
            self.progress(self.data.info(key).label, done, total)

    async def write_directory(self) -> None:
        """Areas, schools, classes and staff, in dependency order (students: roster_students)."""
        await self._areas()
        await self._schools()
        await self._classes()
        await self._staff()

    async def finish(self) -> ImportSummary:
        """Writes the one summary audit entry and returns the counts."""
        s = self.summary
        # Counts only: the audit log must not carry names or ID numbers.
        audit(
            self.uow,
            self.actor,
            self.now,
            "import",
            "roster",
            None,
            created=s.created,
            updated=s.updated,
            unchanged=s.unchanged,
        )
        await self.uow.flush()
        return s

    def _upsert(
        self,
        sheet: str,
        known: dict[Any, Any],
        key: Any,
        make: Callable[..., Any],
        keys: dict[str, Any],
        values: dict[str, Any],
    ) -> None:
        """Creates the row under `key` in `known` (a snapshot map) or updates its `values`."""
        row = known.get(key)
        if row is None:
            row = known[key] = make(**keys, **values)
            self.s.add(row)
        self.count(sheet, row.id is None, sync_fields(row, values))

    async def _areas(self) -> None:
        # Parents before children, so each level can point at rows flushed just before.
        for level in LEVEL_ORDER:
            for a in (r for r in self.data.areas if r.level == level):
                parent = self.snap.areas[a.parent_code].id if a.parent_code else None
                self._upsert(
                    "areas",
                    self.snap.areas,
                    a.code,
                    Area,
                    {"code": a.code},
                    {"name": a.name, "level": a.level, "parent_id": parent},
                )
            await self.uow.flush()

    async def _schools(self) -> None:
        for x in self.data.schools:
            assert x.township_code is not None
            self._upsert(
                "schools",
                self.snap.schools,
                x.code,
                School,
                {"code": x.code},
                {"name": x.name, "area_id": self.snap.areas[x.township_code].id, "stage": x.stage},
            )
        await self.uow.flush()

    async def _classes(self) -> None:
        for c in self.data.classes:
            self._upsert(
                "classes",
                self.snap.classes,
                (c.school_code, c.name),
                SchoolClass,
                {"name": c.name},
                {"grade": c.grade, "school_id": self.snap.schools[c.school_code].id},
            )
        await self.uow.flush()

    async def _staff(self) -> None:
        rows = self.data.staff
        existing: dict[str, Staff] = {}
        for part in chunks([r.phone for r in rows]):
            existing.update(
                {x.phone: x for x in await self.s.scalars(select(Staff).where(Staff.phone.in_(part)))}
            )
        new = {r.phone for r in rows} - set(existing)
        changes: dict[str, list[str]] = {}
        for r in rows:
            values = {
                "name": r.name,
                "role": r.role.value if r.role else None,
                "school_id": self.snap.schools[r.school_code].id
                if r.role in SCHOOL_ROLES and r.school_code
                else None,
                "area_id": self.snap.areas[r.area_code].id
                if r.role in AREA_ROLE_LEVEL and r.area_code
                else None,
            }
            if r.phone in new:
                existing[r.phone] = Staff(phone=r.phone, created_at=self.now, active=True, **values)
                self.s.add(existing[r.phone])
            changes[r.phone] = sync_fields(existing[r.phone], values)
        await self.uow.flush()
        if self.data.has_column("staff", "homeroom_class") or self.data.has_column(
            "staff", "teaching_classes"
        ):
            await self._assignments(existing, changes)
        if any(r.chat_account for r in rows):
            await self._accounts(existing, changes)
        for r in rows:
            self.count("staff", r.phone in new, changes[r.phone])
            if changes[r.phone] and r.phone not in new:
                audit(
                    self.uow,
                    self.actor,
                    self.now,
                    "update",
                    "staff",
                    existing[r.phone].id,
                    fields=changes[r.phone],
                )
        self.report("staff", len(rows), len(rows))

    async def _accounts(self, staff: dict[str, Staff], changes: dict[str, list[str]]) -> None:
        """Binds each listed account to its person on the roster's chat channel, as an invite would: the
        person needs no code. An empty cell leaves an existing binding alone (unbinding is a decision, not
        an omission). An account bound to someone else refuses the whole import."""
        rows = [r for r in self.data.staff if r.chat_account]
        label = self.data.info("staff").label
        if self.account_channel is None:
            raise RosterInvalid(
                [
                    RosterProblem(
                        label,
                        rows[0].row,
                        "企业微信账号",
                        "未配置企业微信，无法预先绑定 (no work-chat channel is configured for this column)",
                    )
                ]
            )
        channel = self.account_channel
        by_account: dict[str, ChannelAccount] = {}
        for part in chunks([r.chat_account for r in rows if r.chat_account]):
            q = select(ChannelAccount).where(
                ChannelAccount.channel == channel, ChannelAccount.account.in_(part)
            )
            by_account.update({a.account: a for a in await self.s.scalars(q)})
        taken = [
            RosterProblem(
                label,
                r.row,
                "企业微信账号",
                f"账号“{r.chat_account}”已绑定给另一名教职工 (bound to someone else)",
            )
            for r in rows
            if r.chat_account in by_account and by_account[r.chat_account].staff_id != staff[r.phone].id
        ]
        if taken:
            raise RosterInvalid(taken)
        ids = [staff[r.phone].id for r in rows]
        mine: dict[int, ChannelAccount] = {}
        for ids_part in chunks(ids):
            q = select(ChannelAccount).where(
                ChannelAccount.channel == channel, ChannelAccount.staff_id.in_(ids_part)
            )
            mine.update({a.staff_id: a for a in await self.s.scalars(q)})
        for r in rows:
            assert r.chat_account is not None
            person = staff[r.phone]
            bound = mine.get(person.id)
            if bound is not None and bound.account == r.chat_account:
                continue
            if bound is None:
                self.s.add(
                    ChannelAccount(
                        staff_id=person.id,
                        channel=channel,
                        account=r.chat_account,
                        conversation=r.chat_account,
                        bound_at=self.now,
                    )
                )
            else:  # the roster names a new account for this person: it replaces the old one
                bound.account, bound.conversation, bound.bound_at = r.chat_account, r.chat_account, self.now
                bound.unreachable_since = None
            changes[r.phone].append("chat_account")
            audit(
                self.uow, self.actor, self.now, "bind", "staff", person.id, channel=channel, source="roster"
            )
        await self.uow.flush()

    async def _assignments(self, staff: dict[str, Staff], changes: dict[str, list[str]]) -> None:
        """Makes each listed person's classes exactly what the file says."""
        by_id = {staff[r.phone].id: r for r in self.data.staff}
        current: dict[int, dict[int, TeachingAssignment]] = {i: {} for i in by_id}
        for part in chunks(list(by_id)):
            q = select(TeachingAssignment).where(TeachingAssignment.staff_id.in_(part))
            for a in await self.s.scalars(q):
                current[a.staff_id][a.class_id] = a
        for staff_id, r in by_id.items():
            wanted: dict[int, bool] = {}
            if r.role in SCHOOL_ROLES and r.school_code:
                for name in r.teaching_classes:
                    wanted[self.snap.classes[(r.school_code, name)].id] = False
                if r.homeroom_class:
                    wanted[self.snap.classes[(r.school_code, r.homeroom_class)].id] = True
            have = current[staff_id]
            if {c: a.is_class_teacher for c, a in have.items()} == wanted:
                continue
            for class_id, assignment in have.items():
                if class_id not in wanted:
                    await self.s.delete(assignment)
                else:
                    assignment.is_class_teacher = wanted[class_id]
            for class_id, is_ct in wanted.items():
                if class_id not in have:
                    self.s.add(
                        TeachingAssignment(staff_id=staff_id, class_id=class_id, is_class_teacher=is_ct)
                    )
            changes[r.phone].append("classes")
        await self.uow.flush()
