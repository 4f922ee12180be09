"""In-memory stand-ins for what the conversation engine talks to: drafts kept like rows of a table (read into
a unit of work, written back only on commit), a media store, and the services the forms read."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.policy import Policy, load_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class FakeDraft:
    staff_id: int
    form: str
    step: str
    answers: dict[str, Any]
    updated_at: datetime
    seq: int = 1  # what the database's version column starts at
    submitted_at: datetime | None = None
    receipt: dict[str, Any] | None = None


DraftTable = dict[int, FakeDraft]  # the committed rows, by conversation


class FakeDrafts:
    """The `Drafts` port over a dict: each unit of work sees copies, and only `commit` writes them back, so
    a draft that was never committed is gone after a "kill", as in the database."""

    def __init__(self, table: DraftTable) -> None:
        self._table = table
        self._rows: dict[int, FakeDraft | None] = {}  # this unit of work's view; None: deleted

    def _row(self, conversation: int) -> FakeDraft | None:
        if conversation not in self._rows:
            self._rows[conversation] = copy.deepcopy(self._table.get(conversation))
        return self._rows[conversation]

    async def get(self, conversation: int) -> FakeDraft | None:
        row = self._row(conversation)
        return row if row is not None and row.submitted_at is None else None

    async def start(
        self,
        conversation: int,
        *,
        staff_id: int,
        form: str,
        step: str,
        answers: dict[str, Any],
        now: datetime,
    ) -> FakeDraft:
        assert self._row(conversation) is None, "the conversation's last row was neither deleted nor cleared"
        row = FakeDraft(staff_id, form, step, answers, updated_at=now)
        self._rows[conversation] = row
        return row

    async def save(self, conversation: int, *, step: str, answers: dict[str, Any], now: datetime) -> int:
        row = self._row(conversation)
        assert row is not None
        row.step, row.answers, row.updated_at = step, answers, now
        row.seq += 1
        return row.seq

    async def submit(self, conversation: int, *, receipt: dict[str, Any], now: datetime) -> None:
        row = self._row(conversation)
        assert row is not None
        row.answers, row.receipt, row.submitted_at, row.updated_at = {}, receipt, now, now
        row.seq += 1

    async def delete(self, conversation: int) -> None:
        if await self.get(conversation) is not None:
            self._rows[conversation] = None

    async def receipt(self, conversation: int, since: datetime) -> FakeDraft | None:
        row = self._row(conversation)
        if row is None or row.submitted_at is None or row.submitted_at < since:
            return None
        return row

    async def clear_receipt(self, conversation: int) -> None:
        row = self._row(conversation)
        if row is not None and row.submitted_at is not None:
            self._rows[conversation] = None

    async def mark_delivered(self, conversation: int) -> None:
        row = self._row(conversation)
        if row is not None and row.receipt is not None:
            row.receipt = {**row.receipt, "delivered": True}

    def write_back(self) -> None:
        for conversation, row in self._rows.items():
            if row is None:
                self._table.pop(conversation, None)
            else:
                self._table[conversation] = copy.deepcopy(row)


class FakeUnitOfWork:
    """One update's unit of work over the shared draft table: nothing sticks without `commit`."""

    def __init__(self, table: DraftTable) -> None:
        self.drafts = FakeDrafts(table)

    async def commit(self) -> None:
        self.drafts.write_back()


class FakeMediaStore:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.files[key] = data
        return key

    async def get(self, key: str) -> bytes:
        return self.files[key]

    async def exists(self, key: str) -> bool:
        return key in self.files

    async def delete(self, key: str) -> bool:
        return self.files.pop(key, None) is not None


@dataclass(frozen=True)
class FakeSettings:
    show_full_student_names: bool = False


@dataclass
class FakeServices:
    tz: ZoneInfo = SHANGHAI
    policy: Policy = field(default_factory=load_policy)
    media: FakeMediaStore = field(default_factory=FakeMediaStore)
    settings: FakeSettings = field(default_factory=FakeSettings)
