"""Queries, one repository per aggregate. Repositories never commit; the unit of work does."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Select, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from storage.models import (
    BEFORE_BOT_KEY,
    Area,
    Attachment,
    AuditEntry,
    Case,
    CaseEvent,
    ChannelAccount,
    Code,
    ConversationDraft,
    Counter,
    Invite,
    ProcessedUpdate,
    Reminder,
    School,
    SchoolClass,
    Staff,
    Student,
    StudentFlag,
    TeachingAssignment,
    next_seq,
)
from storage.scope import Scope


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)


class DirectoryRepository(_Repository):
    """Areas, schools, classes, staff and their chat channel accounts."""

    async def area_by_code(self, code: str) -> Area | None:
        return await self.session.scalar(select(Area).where(Area.code == code))

    async def areas(self) -> Sequence[Area]:
        return (await self.session.scalars(select(Area).order_by(Area.id))).all()

    async def area(self, area_id: int) -> Area | None:
        return await self.session.get(Area, area_id)

    async def school_by_code(self, code: str) -> School | None:
        return await self.session.scalar(select(School).where(School.code == code))

    async def school(self, school_id: int | None) -> School | None:
        """The school, or None (also for a child on no school roll, whose school_id is None)."""
        return None if school_id is None else await self.session.get(School, school_id)

    async def schools(self) -> Sequence[School]:
        return (await self.session.scalars(select(School).order_by(School.id))).all()

    async def class_by_name(self, school_id: int, name: str) -> SchoolClass | None:
        return await self.session.scalar(
            select(SchoolClass).where(SchoolClass.school_id == school_id, SchoolClass.name == name)
        )

    async def school_class(self, class_id: int | None) -> SchoolClass | None:
        return None if class_id is None else await self.session.get(SchoolClass, class_id)

    async def classes(self, class_ids: Iterable[int] | None = None) -> Sequence[SchoolClass]:
        q = select(SchoolClass).order_by(SchoolClass.grade, SchoolClass.name)
        if class_ids is not None:
            q = q.where(SchoolClass.id.in_(list(class_ids)))
        return (await self.session.scalars(q)).all()

    async def staff(self, staff_id: int) -> Staff | None:
        return await self.session.get(Staff, staff_id)

    async def staff_by_phone(self, phone: str) -> Staff | None:
        return await self.session.scalar(select(Staff).where(Staff.phone == phone))

    async def all_staff(self) -> Sequence[Staff]:
        return (await self.session.scalars(select(Staff).order_by(Staff.id))).all()

    async def staff_in_area(self, area_id: int, role: str) -> Sequence[Staff]:
        q = select(Staff).where(Staff.area_id == area_id, Staff.role == role, Staff.active.is_(True))
        return (await self.session.scalars(q.order_by(Staff.id))).all()

    async def staff_of_school(self, school_id: int | None, role: str) -> Sequence[Staff]:
        if school_id is None:
            return []
        q = select(Staff).where(Staff.school_id == school_id, Staff.role == role, Staff.active.is_(True))
        return (await self.session.scalars(q.order_by(Staff.id))).all()

    async def assignments(self, staff_id: int) -> Sequence[TeachingAssignment]:
        q = select(TeachingAssignment).where(TeachingAssignment.staff_id == staff_id)
        return (await self.session.scalars(q)).all()

    async def assignments_of_class(self, class_id: int | None) -> Sequence[TeachingAssignment]:
        if class_id is None:
            return []
        q = select(TeachingAssignment).where(TeachingAssignment.class_id == class_id)
        return (await self.session.scalars(q)).all()

    async def account(self, channel: str, account: str) -> ChannelAccount | None:
        """The binding of one channel's user id (as text), if any."""
        q = select(ChannelAccount).where(ChannelAccount.channel == channel, ChannelAccount.account == account)
        return await self.session.scalar(q)

    async def account_and_staff(self, channel: str, account: str) -> tuple[ChannelAccount, Staff] | None:
        """The binding of one channel's user id and its staff member, in one statement (every update)."""
        q = (
            select(ChannelAccount, Staff)
            .join(Staff, Staff.id == ChannelAccount.staff_id)
            .where(ChannelAccount.channel == channel, ChannelAccount.account == account)
        )
        found = (await self.session.execute(q)).first()
        return None if found is None else (found[0], found[1])

    async def accounts_of(self, staff_id: int) -> Sequence[ChannelAccount]:
        return (
            await self.session.scalars(select(ChannelAccount).where(ChannelAccount.staff_id == staff_id))
        ).all()

    async def account_for_staff(
        self, staff_id: int, channels: Collection[str] | None = None
    ) -> ChannelAccount | None:
        """Where messages to this person go: of their accounts (on `channels`, the ones running, if given),
        the reachable one bound last (a person bound on two channels gets each message once, on the channel
        they joined most recently)."""
        q = select(ChannelAccount).where(
            ChannelAccount.id == preferred_account(staff_id, channels).scalar_subquery()
        )
        return await self.session.scalar(q)

    async def unbound_staff(self) -> Sequence[Staff]:
        bound = select(ChannelAccount.staff_id)
        q = select(Staff).where(Staff.active.is_(True), Staff.id.not_in(bound)).order_by(Staff.id)
        return (await self.session.scalars(q)).all()


def preferred_account(staff_id: Any, channels: Collection[str] | None = None) -> Select[Any]:
    """The id of the account messages to `staff_id` (a value or a correlated column) go to: reachable
    first, then the one bound last. Over an alias, so it can sit in a join on the accounts table itself."""
    account = aliased(ChannelAccount)
    wanted = [account.staff_id == staff_id]
    if channels is not None:
        wanted.append(account.channel.in_(sorted(channels)))
    return (
        select(account.id)
        .where(*wanted)
        .order_by(account.unreachable_since.is_not(None), account.bound_at.desc(), account.id.desc())
        .limit(1)
        .correlate_except(account)
    )


class StudentRepository(_Repository):
    async def get(self, student_id: int) -> Student | None:
        return await self.session.get(Student, student_id)

    async def by_number(self, student_number: str) -> Student | None:
        return await self.session.scalar(select(Student).where(Student.student_number == student_number))

    async def with_national_id(self, national_id: str) -> Sequence[Student]:
        """Active students with this ID number: pupils on a school roll first, then children on none."""
        q = select(Student).where(Student.national_id == national_id, Student.active.is_(True))
        return (await self.session.scalars(q.order_by(Student.school_id.is_(None), Student.id))).all()

    def _scoped(self, scope: Scope) -> Select[Student]:
        q = select(Student).where(Student.active.is_(True))
        return q if scope.everything else q.where(_student_in_scope(scope))

    async def in_scope(self, scope: Scope, student_id: int) -> Student | None:
        return await self.session.scalar(self._scoped(scope).where(Student.id == student_id))

    async def on_rolls(
        self, scope: Scope, fragment: str | None, limit: int | None = None
    ) -> Sequence[Row[int, str, str, int | None, str]]:
        """Active pupils in scope on a class roll (id, name, student_number, school_id and class_name: rows,
        not entities, for a list of choices), in one statement: those whose name
        contains `fragment` (in class order), or with no fragment every pupil of the scope's classes (by
        class, then name); a scope without classes (a school's, a village's) is searched with "" then."""
        searched = bool(fragment) or not scope.class_ids
        shape = (
            searched,
            limit is not None,
            scope.everything,
            bool(scope.class_ids),
            bool(scope.school_ids),
            bool(scope.village_ids),
        )
        params = {
            "classes": list(scope.class_ids),
            "schools": list(scope.school_ids),
            "villages": list(scope.village_ids),
            "pattern": "%" + _like_escaped(fragment or "") + "%",
            "limit": limit,
        }
        return (await self.session.execute(_on_rolls(*shape), params)).all()

    async def of_class(self, class_id: int) -> Sequence[Student]:
        q = select(Student).where(Student.class_id == class_id, Student.active.is_(True))
        return (await self.session.scalars(q.order_by(Student.name, Student.id))).all()

    async def flags(self, student_id: int) -> list[str]:
        q = select(StudentFlag.flag).where(StudentFlag.student_id == student_id).order_by(StudentFlag.flag)
        return list((await self.session.scalars(q)).all())

    async def set_flags(self, student_id: int, flags: Iterable[str]) -> None:
        wanted = set(flags)
        current = set(await self.flags(student_id))
        for flag in wanted - current:
            self.session.add(StudentFlag(student_id=student_id, flag=flag))
        if current - wanted:
            rows = await self.session.scalars(
                select(StudentFlag).where(
                    StudentFlag.student_id == student_id, StudentFlag.flag.in_(current - wanted)
                )
            )
            for row in rows:
                await self.session.delete(row)

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Student)) or 0)


@functools.cache
def _on_rolls(
    searched: bool, limited: bool, everything: bool, classes: bool, schools: bool, villages: bool
) -> Select[int, str, str, int | None, str]:
    """StudentRepository.on_rolls's statement for one shape of scope, built once (it runs on every pupil
    question); the ids, the name pattern and the limit are parameters. Of the tables' own columns: rows
    for a list of choices need none of the ORM's work."""
    pupil, cls = cast(Table, Student.__table__).c, cast(Table, SchoolClass.__table__).c
    q = select(pupil.id, pupil.name, pupil.student_number, pupil.school_id, cls.name.label("class_name"))
    q = q.join_from(Student.__table__, SchoolClass.__table__, cls.id == pupil.class_id)
    q = q.where(pupil.active.is_(True))
    if not searched:
        q = q.where(pupil.class_id.in_(bindparam("classes", expanding=True)))
        q = q.order_by(cls.grade, cls.name, pupil.name, pupil.id)
    else:
        if not everything:
            clauses = [
                column.in_(bindparam(name, expanding=True))
                for column, name, present in (
                    (pupil.class_id, "classes", classes),
                    (pupil.school_id, "schools", schools),
                    (pupil.home_village_id, "villages", villages),
                )
                if present
            ]
            q = q.where(or_(*clauses) if clauses else pupil.id.is_(None))
        q = q.where(pupil.name.like(bindparam("pattern"), escape="/"))
        q = q.order_by(pupil.class_id, pupil.name)
    return q.limit(bindparam("limit")) if limited else q


def _like_escaped(text: str) -> str:
    """`text` matched literally by LIKE … ESCAPE '/'."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _student_in_scope(scope: Scope) -> Any:
    clauses = []
    if scope.class_ids:
        clauses.append(Student.class_id.in_(scope.class_ids))
    if scope.school_ids:
        clauses.append(Student.school_id.in_(scope.school_ids))
    if scope.village_ids:
        clauses.append(Student.home_village_id.in_(scope.village_ids))
    return or_(*clauses) if clauses else Student.id.is_(None)


class CaseRepository(_Repository):
    async def get(self, case_id: int) -> Case | None:
        return await self.session.get(Case, case_id)

    async def open_for_student(self, student_id: int) -> Case | None:
        q = select(Case).where(Case.student_id == student_id, Case.status != "closed")
        return await self.session.scalar(q)

    async def latest_for_student(self, student_id: int) -> Case | None:
        q = select(Case).where(Case.student_id == student_id).order_by(Case.id.desc()).limit(1)
        return await self.session.scalar(q)

    async def in_scope(self, scope: Scope, case_id: int) -> Case | None:
        q = select(Case).join(Student, Student.id == Case.student_id).where(Case.id == case_id)
        if not scope.everything:
            q = q.where(
                or_(
                    _student_in_scope(scope),
                    Case.responsible_teacher_id == scope.staff_id,
                    Case.responsible_cadre_id == scope.staff_id,
                )
            )
        return await self.session.scalar(q)

    async def open_in_scope(self, scope: Scope, limit: int = 200) -> Sequence[Case]:
        q = select(Case).join(Student, Student.id == Case.student_id).where(Case.status != "closed")
        if not scope.everything:
            q = q.where(
                or_(
                    _student_in_scope(scope),
                    Case.responsible_teacher_id == scope.staff_id,
                    Case.responsible_cadre_id == scope.staff_id,
                )
            )
        return (await self.session.scalars(q.order_by(Case.opened_at, Case.id).limit(limit))).all()

    async def waiting_for(self, scope: Scope, step: str, limit: int = 200) -> Sequence[Case]:
        """Open cases in scope whose next step is `step`, longest waiting first."""
        q = select(Case).join(Student, Student.id == Case.student_id).where(Case.next_step == step)
        if not scope.everything:
            q = q.where(or_(_student_in_scope(scope), Case.responsible_teacher_id == scope.staff_id))
        return (await self.session.scalars(q.order_by(Case.next_step_due_at, Case.id).limit(limit))).all()

    async def silent(
        self,
        scope: Scope | None,
        statuses: Iterable[str],
        limit: int = 1000,
        case_ids: Iterable[int] | None = None,
    ) -> Sequence[Any]:
        """Cases in `statuses` (and in scope) breaking the no-silent-case invariant: no active owner, no
        next dated step, or no reminder waiting to be sent. Rows: (id, number, status, owner id, owner
        active, next step due, a reminder pending)."""
        owner = aliased(Staff)
        pending = (
            select(Reminder.id)
            .where(Reminder.case_id == Case.id, Reminder.state.in_(("pending", "batched", "claimed")))
            .exists()
        )
        q = (
            select(
                Case.id,
                Case.number,
                Case.status,
                owner.id,
                owner.active,
                Case.next_step_due_at,
                pending.label("told"),
            )
            .outerjoin(owner, owner.id == Case.responsible_teacher_id)
            .where(
                Case.status.in_(list(statuses)),
                or_(owner.id.is_(None), owner.active.is_(False), Case.next_step_due_at.is_(None), ~pending),
            )
        )
        if scope is not None and not scope.everything:
            q = q.join(Student, Student.id == Case.student_id).where(
                or_(_student_in_scope(scope), Case.responsible_teacher_id == scope.staff_id)
            )
        return (await self.session.execute(q.order_by(Case.id).limit(limit))).all()

    async def automatic_due(self, now: datetime, limit: int = 500) -> list[int]:
        """Open cases whose automatic step (domain.casework.automatic) is due, oldest first."""
        q = (
            select(Case.id)
            .where(Case.auto_step_due_at <= now, Case.status != "closed")
            .order_by(Case.auto_step_due_at, Case.id)
            .limit(limit)
        )
        return list((await self.session.scalars(q)).all())

    async def events(self, case_id: int) -> Sequence[CaseEvent]:
        q = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return (await self.session.scalars(q)).all()

    async def next_number(self, year: int) -> str:
        """Allocates the next case number of the year, e.g. 2026-000123, on both databases. The counter
        row is created with ON CONFLICT DO NOTHING, so two workers opening the year's first cases at
        once both succeed; the UPDATE then serialises them on the row."""
        name = f"case-{year}"
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"])
        )
        result = await self.session.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        )
        return f"{year}-{result.scalar_one():06d}"

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(select(Case.status, func.count()).group_by(Case.status))
        return {status: int(n) for status, n in rows.all()}


class CodeRepository(_Repository):
    async def scheme(self, scheme: str, active_only: bool = True) -> Sequence[Code]:
        q = select(Code).where(Code.scheme == scheme)
        if active_only:
            q = q.where(Code.active.is_(True))
        return (await self.session.scalars(q.order_by(Code.sort, Code.code))).all()

    async def get(self, scheme: str, code: str) -> Code | None:
        return await self.session.scalar(select(Code).where(Code.scheme == scheme, Code.code == code))


class InviteRepository(_Repository):
    async def by_hash(self, code_hash: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.code_hash == code_hash))


class AuditRepository(_Repository):
    def record(
        self,
        *,
        at: datetime,
        actor_label: str,
        action: str,
        entity: str,
        entity_id: object = None,
        actor_id: int | None = None,
        source: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Appends one audit entry in the current transaction."""
        self.session.add(
            AuditEntry(
                at=at,
                actor_id=actor_id,
                actor_label=actor_label,
                action=action,
                entity=entity,
                entity_id=None if entity_id is None else str(entity_id),
                source=source,
                detail=detail or {},
            )
        )

    async def entries(self, action: str | None = None) -> Sequence[AuditEntry]:
        q = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        return (await self.session.scalars(q)).all()


_DRAFTS = cast(Table, ConversationDraft.__table__)
# DraftRepository.save, every step's write: one UPDATE, built once, instead of a flush of the session. The
# seq check does what the mapper's version column does (a draft saved meanwhile is not overwritten).
_SAVE_DRAFT = (
    update(_DRAFTS)
    .where(_DRAFTS.c.account_id == bindparam("account"), _DRAFTS.c.seq == bindparam("was"))
    .values(
        {
            name: bindparam(name, type_=_DRAFTS.c[name].type)
            for name in ("step", "answers", "updated_at", "seq")
        }
    )
)


class DraftRepository(_Repository):
    """Conversation drafts, one per channel account; a submitted form's row stays a few days as its receipt."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Accounts read in this transaction with no row at all: the identity map remembers rows only, and a
        # new form would read its chat's absent row twice (no form in progress, then no receipt to clear).
        self._absent: set[int] = set()

    async def _row(self, account_id: int) -> ConversationDraft | None:
        if account_id in self._absent:
            return None
        row = await self.session.get(ConversationDraft, account_id)
        if row is None:
            self._absent.add(account_id)
        return row

    def absent(self, account_id: int) -> None:
        """The account has no draft row: read so in this transaction by another statement."""
        self._absent.add(account_id)

    async def get(self, account_id: int) -> ConversationDraft | None:
        """The form in progress in this conversation (a receipt is none)."""
        draft = await self._row(account_id)
        return draft if draft is not None and draft.submitted_at is None else None

    async def start(
        self, account_id: int, *, staff_id: int, form: str, step: str, answers: dict[str, Any], now: datetime
    ) -> ConversationDraft:
        """A new form in the chat; the row it held before was deleted or cleared (and goes first)."""
        await self.session.flush()
        self._absent.discard(account_id)
        draft = ConversationDraft(
            account_id=account_id, staff_id=staff_id, form=form, step=step, answers=answers, updated_at=now
        )
        self.session.add(draft)
        await self.session.flush()
        return draft

    async def save(self, account_id: int, *, step: str, answers: dict[str, Any], now: datetime) -> int:
        """Stores the form's step and answers and bumps `seq`, which is returned; StaleDataError if the row
        changed since this transaction read it (the caller holds the row it read: `get`)."""
        draft = await self._row(account_id)
        assert draft is not None
        seq = next_seq(draft.seq)
        values = {"step": step, "answers": answers, "updated_at": now, "seq": seq}
        saved = await self.session.execute(_SAVE_DRAFT, {"account": account_id, "was": draft.seq, **values})
        if cast(CursorResult[Any], saved).rowcount != 1:  # another process saved it first: retried
            raise StaleDataError(f"draft of account {account_id} changed since it was read")
        for key, value in values.items():  # the row in the session is the row as saved
            set_committed_value(draft, key, value)
        return seq

    async def submit(self, account_id: int, *, receipt: dict[str, Any], now: datetime) -> None:
        """The row stays as the form's receipt, without the answers (what was saved is on file now)."""
        draft = await self.session.get(ConversationDraft, account_id)
        assert draft is not None
        draft.answers, draft.receipt = {}, receipt
        draft.submitted_at = draft.updated_at = now
        await self.session.flush()

    async def delete(self, account_id: int) -> None:
        """Drops the chat's form in progress, if there is one."""
        if (draft := await self.get(account_id)) is not None:
            await self.session.delete(draft)

    async def receipt(self, account_id: int, since: datetime) -> ConversationDraft | None:
        """The conversation's last submitted form, if it was submitted at or after `since`."""
        row = await self._row(account_id)
        if row is None or row.submitted_at is None or row.submitted_at < since:
            return None
        return row

    async def clear_receipt(self, account_id: int) -> None:
        """Makes way for a new form in the conversation."""
        row = await self._row(account_id)
        if row is not None and row.submitted_at is not None:
            await self.session.delete(row)

    async def mark_delivered(self, account_id: int) -> None:
        """The person has seen the submitted form's confirmation: a later tap need not send it again."""
        row = await self.session.get(ConversationDraft, account_id)
        if row is not None and row.receipt is not None and not row.receipt.get("delivered"):
            row.receipt = {**row.receipt, "delivered": True}

    async def prune_receipts(self, before: datetime) -> None:
        await self.session.execute(delete(ConversationDraft).where(ConversationDraft.submitted_at < before))


# Built once: every form input runs it, and building a statement costs about as much as running it.
_ARRIVAL = (
    select(
        ChannelAccount,
        Staff,
        TeachingAssignment.class_id,
        select(ProcessedUpdate.update_id)
        .where(
            ProcessedUpdate.channel == bindparam("channel"),
            ProcessedUpdate.update_id == bindparam("update_id"),
            ProcessedUpdate.bot_id.in_((bindparam("bot_id"), BEFORE_BOT_KEY)),
        )
        .exists(),
        ConversationDraft,
    )
    .join(Staff, Staff.id == ChannelAccount.staff_id)
    .outerjoin(TeachingAssignment, TeachingAssignment.staff_id == Staff.id)
    .outerjoin(ConversationDraft, ConversationDraft.account_id == ChannelAccount.id)
    .where(ChannelAccount.channel == bindparam("channel"), ChannelAccount.account == bindparam("account"))
)


_RECORD = insert(cast(Table, ProcessedUpdate.__table__))  # the table's: no ORM bulk insert for one row


@dataclass(frozen=True)
class Arrived:
    """What an update's sender needs read first (UpdateLog.arrival)."""

    seen: bool  # the update was applied before
    binding: ChannelAccount | None
    staff: Staff | None  # the bound staff member (active or not)
    class_ids: frozenset[int]  # the classes they teach
    # The account's draft row, now in the session (DraftRepository reads it from there), or None: then
    # tell DraftRepository.absent, so that it is not read again.
    draft: ConversationDraft | None = None


class UpdateLog(_Repository):
    """Updates already applied (at-least-once delivery made idempotent), keyed by channel, bot and update id:
    update ids are numbered per bot, so two bots on one database must not take each other's for their own.
    Rows from before that key (bot 0, migration 0011) count as every bot's."""

    def _known(self, update_id: int, bot_id: int, channel: str) -> ProcessedUpdate | None:
        """The row if this session holds it already (marked in this transaction, or read before)."""
        pending = (
            o
            for o in self.session.new
            if isinstance(o, ProcessedUpdate)
            and (o.channel, o.bot_id, o.update_id) == (channel, bot_id, update_id)
        )
        if row := next(pending, None):
            return row
        held = self.session.identity_map
        for key in ((channel, bot_id, update_id), (channel, BEFORE_BOT_KEY, update_id)):
            if (found := held.get(identity_key(ProcessedUpdate, key))) is not None:
                return found  # type: ignore[no-any-return]
        return None

    @staticmethod
    def _where(update_id: int, bot_id: int, channel: str) -> Any:
        # This bot's row or one kept before the bot key: one statement, not one per key.
        return (
            ProcessedUpdate.channel == channel,
            ProcessedUpdate.update_id == update_id,
            ProcessedUpdate.bot_id.in_((bot_id, BEFORE_BOT_KEY)),
        )

    async def _row(self, update_id: int, bot_id: int, channel: str) -> ProcessedUpdate | None:
        if (row := self._known(update_id, bot_id, channel)) is not None:
            return row
        q = select(ProcessedUpdate).where(*self._where(update_id, bot_id, channel))
        return (await self.session.scalars(q.order_by(ProcessedUpdate.bot_id.desc()).limit(1))).first()

    async def arrival(self, update_id: int, *, bot_id: int, channel: str, account: str) -> Arrived:
        """Whether the update was applied, and who sent it (the account's binding, its staff member, their
        classes and the account's form draft): one statement for what every form input reads first. An
        account bound to no one has no row to carry `seen`, which is then read on its own."""
        params = {"update_id": update_id, "bot_id": bot_id, "channel": channel, "account": account}
        rows = (await self.session.execute(_ARRIVAL, params)).all()
        if not rows:
            return Arrived(
                await self.seen(update_id, bot_id=bot_id, channel=channel), None, None, frozenset()
            )
        binding, staff, _, applied, draft = rows[0]
        classes = frozenset(row[2] for row in rows if row[2] is not None)
        return Arrived(bool(applied), binding, staff, classes, draft)

    async def seen(self, update_id: int, *, bot_id: int, channel: str) -> bool:
        """Whether the update was applied: one indexed read of the key, no row loaded (the hot path)."""
        if self._known(update_id, bot_id, channel) is not None:
            return True
        q = select(ProcessedUpdate.update_id).where(*self._where(update_id, bot_id, channel)).limit(1)
        return (await self.session.scalar(q)) is not None

    async def reply(self, update_id: int, *, bot_id: int, channel: str) -> dict[str, Any] | None:
        """What the applied update was answered with (None if not applied, or nothing was kept)."""
        row = await self._row(update_id, bot_id, channel)
        return None if row is None else row.reply

    def mark(
        self,
        update_id: int,
        at: datetime,
        reply: dict[str, Any] | None = None,
        *,
        bot_id: int,
        channel: str,
    ) -> None:
        """Recorded in the same transaction as the update's effect; a racing duplicate fails at commit.
        `reply` is what the update is answered with, for a redelivery after the reply was lost."""
        self.session.add(
            ProcessedUpdate(channel=channel, bot_id=bot_id, update_id=update_id, processed_at=at, reply=reply)
        )

    async def record(
        self, update_id: int, at: datetime, reply: dict[str, Any], *, bot_id: int, channel: str
    ) -> None:
        """`mark` for the end of a transaction: the row is inserted now, by one statement built once,
        which spares the commit a flush of the session. A racing duplicate fails here (IntegrityError)."""
        await self.session.execute(
            _RECORD,
            {
                "channel": channel,
                "bot_id": bot_id,
                "update_id": update_id,
                "processed_at": at,
                "reply": reply,
            },
        )

    async def first(self, update_id: int, at: datetime, *, bot_id: int, channel: str) -> bool:
        """Marks the update as applied in this transaction; False when it was applied before (a replay)."""
        if await self.seen(update_id, bot_id=bot_id, channel=channel):
            return False
        self.mark(update_id, at, bot_id=bot_id, channel=channel)
        return True

    async def keep_reply(self, update_id: int, reply: dict[str, Any], *, bot_id: int, channel: str) -> None:
        """Sets the reply of an update marked in this transaction (its answer is known only at the end)."""
        row = await self._row(update_id, bot_id, channel)
        if row is not None:
            row.reply = reply

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before))


class AttachmentRepository(_Repository):
    """Evidence files (photos) of cases and their events."""

    async def get(self, attachment_id: int) -> Attachment | None:
        return await self.session.get(Attachment, attachment_id)

    async def by_ids(self, ids: Iterable[int]) -> Sequence[Attachment]:
        """The attachments with these ids that exist, in id order."""
        wanted = list(ids)
        if not wanted:
            return []
        q = select(Attachment).where(Attachment.id.in_(wanted)).order_by(Attachment.id)
        return (await self.session.scalars(q)).all()

    async def of_event(self, event_id: int) -> Sequence[Attachment]:
        q = select(Attachment).where(Attachment.event_id == event_id).order_by(Attachment.id)
        return (await self.session.scalars(q)).all()

    async def of_case(self, case_id: int) -> Sequence[Attachment]:
        q = select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)
        return (await self.session.scalars(q)).all()
