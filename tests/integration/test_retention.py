"""The retention job on real SQLite and PostgreSQL: exactly what is past the policy goes, files too."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from domain.clock import FixedClock
from domain.policy import Policy
from domain.privacy.retention import RetentionCounts, run_retention
from domain.reports.monthly_numbers import monthly_numbers
from storage.media import LocalMediaStore
from storage.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseEvent,
    ConversationDraft,
    InboxUpdate,
    ProcessedUpdate,
    Reminder,
    Student,
    StudentFlag,
)
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

LONG_AGO = datetime(2022, 3, 10, 2, 0, tzinfo=UTC)  # more than 3 years before the test clock
LATELY = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
GROWN_UP = date(2005, 5, 1)  # 21 at the test clock: past compulsory schooling


@pytest.fixture
def media(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


async def _photo(uow_factory: UnitOfWorkFactory, media: LocalMediaStore, case_id: int | None, tag: bytes,
                 *, at: datetime, event_id: int | None = None, shared: bytes | None = None) -> Attachment:  # fmt: skip
    original = await media.put(b"original " + tag)
    evidence = await media.put(b"evidence " + tag)
    thumbnail = await media.put(shared if shared is not None else b"thumbnail " + tag)
    row = Attachment(case_id=case_id, event_id=event_id, sha256=original, received_sha256=original,
                     media_type="image/jpeg", size_bytes=10, evidence_sha256=evidence,
                     thumbnail_sha256=thumbnail, exif_latitude=29.5, exif_longitude=106.5, created_at=at)  # fmt: skip
    async with uow_factory() as uow:
        uow.session.add(row)
        await uow.commit()
    return row


async def _ended_case(uow_factory: UnitOfWorkFactory, student: Student, number: str, *, status: str,
                      ended: datetime) -> tuple[Case, CaseEvent]:  # fmt: skip
    async with uow_factory() as uow:
        case = Case(number=number, student_id=student.id, status=status, opened_at=ended - timedelta(days=40),
                    updated_at=ended, closed_at=ended if status == "closed" else None,
                    reason="父亲说孩子在外地打工", resolution="已返校，班主任每周家访")  # fmt: skip
        uow.session.add(case)
        await uow.flush()
        opened = CaseEvent(case_id=case.id, kind="opened", occurred_at=case.opened_at,
                           recorded_at=case.opened_at, to_status="suspected", data={})  # fmt: skip
        visit = CaseEvent(case_id=case.id, kind="visit_logged", occurred_at=ended - timedelta(days=20),
                          recorded_at=ended - timedelta(days=20),
                          data={"mode": "home", "outcome": "agreed_to_return", "note": "住东山村三组王家",
                                "location": {"lat": 29.5, "lon": 106.5}, "attachments": [1]})  # fmt: skip
        done = CaseEvent(case_id=case.id, kind="status_changed", occurred_at=ended, recorded_at=ended,
                         from_status="retention", to_status=status, data={"proof": "转学证明"})  # fmt: skip
        uow.session.add_all([opened, visit, done])
        uow.session.add(Reminder(kind="retention_check", case_id=case.id, recipient_id=1, due_at=ended,
                                 state="sent", dedupe_key=f"r-{number}", created_at=ended, send_after=ended,
                                 payload={"student": student.name}))  # fmt: skip
        await uow.commit()
    return case, visit


async def _grow_up(uow_factory: UnitOfWorkFactory, student: Student) -> None:
    async with uow_factory() as uow:
        row = await uow.session.get(Student, student.id)
        assert row is not None
        row.birth_date = GROWN_UP
        row.national_id = "110101200505010012"
        uow.session.add(StudentFlag(student_id=row.id, flag="left_behind"))
        await uow.commit()


async def _run(uow_factory: UnitOfWorkFactory, media: LocalMediaStore, policy: Policy, clock: FixedClock,
               dry_run: bool = False) -> RetentionCounts:  # fmt: skip
    return await run_retention(uow_factory, media, policy.data_retention, now=clock.now(),
                               tz=policy_tz(), dry_run=dry_run)  # fmt: skip


def policy_tz() -> ZoneInfo:
    return ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory, pupils_per_class=2)


async def test_only_ended_cases_past_the_limit_of_grown_up_children_are_anonymised(
    uow_factory: UnitOfWorkFactory, world: World, media: LocalMediaStore, policy: Policy, clock: FixedClock
) -> None:
    due_pupil, recent_pupil, young_pupil, cleared_pupil = world.students[:4]
    for pupil in (due_pupil, recent_pupil, cleared_pupil):
        await _grow_up(uow_factory, pupil)
    due, due_visit = await _ended_case(uow_factory, due_pupil, "C-OLD", status="closed", ended=LONG_AGO)
    recent, recent_visit = await _ended_case(
        uow_factory, recent_pupil, "C-RECENT", status="closed", ended=LATELY
    )
    young, _ = await _ended_case(uow_factory, young_pupil, "C-YOUNG", status="closed", ended=LONG_AGO)
    cleared, _ = await _ended_case(uow_factory, cleared_pupil, "C-CLEARED", status="cleared", ended=LONG_AGO)
    # The due case's thumbnail bytes are also a kept case's thumbnail: that file must stay.
    gone = await _photo(
        uow_factory, media, due.id, b"due", at=LONG_AGO, event_id=due_visit.id, shared=b"same"
    )
    kept = await _photo(
        uow_factory, media, recent.id, b"recent", at=LATELY, event_id=recent_visit.id, shared=b"same"
    )
    async with uow_factory() as uow:
        march = await monthly_numbers(uow, world.school.id, date(2022, 3, 1), policy_tz())

    preview = await _run(uow_factory, media, policy, clock, dry_run=True)
    async with uow_factory() as uow:
        assert (await uow.session.get(Case, due.id)).anonymised_at is None  # type: ignore[union-attr]
    assert await media.exists(gone.sha256)

    done = await _run(uow_factory, media, policy, clock)
    assert (done.cases, done.students, done.case_photos, done.files) == (2, 2, 1, 2)
    assert (preview.cases, preview.students, preview.case_photos) == (2, 2, 1)

    async with uow_factory() as uow:
        s = uow.session
        for case_id in (due.id, cleared.id):
            case = await s.get(Case, case_id)
            assert case is not None and case.anonymised_at == clock.now()
            assert case.reason is None and case.resolution is None and case.number.startswith("C-")
        for case_id in (recent.id, young.id):
            case = await s.get(Case, case_id)
            assert case is not None and case.anonymised_at is None and case.reason
        visit = await s.get(CaseEvent, due_visit.id)
        assert visit is not None
        assert visit.data == {"mode": "home", "outcome": "agreed_to_return", "anonymised": True}
        student = await s.get(Student, due_pupil.id)
        assert (
            student is not None and student.name == "***" and student.student_number == f"ANON-{student.id}"
        )
        assert (
            student.national_id is None and student.guardian_phone is None and student.birth_date.year == 2005
        )
        assert await uow.students.flags(due_pupil.id) == []
        untouched = await s.get(Student, recent_pupil.id)
        assert untouched is not None and untouched.name == recent_pupil.name
        assert await s.get(Attachment, gone.id) is None and await s.get(Attachment, kept.id) is not None
        assert [r.case_id for r in await uow.session.scalars(select(Reminder))] == [
            recent.id,
            young.id,
        ]
        # Past monthly figures are made of the numbered cases and their dated status changes: unchanged.
        assert await monthly_numbers(uow, world.school.id, date(2022, 3, 1), policy_tz()) == march
        [entry] = await uow.audit.entries("retention")
        assert entry.detail["cases"] == 2 and entry.actor_label == "retention"
    assert not await media.exists(gone.sha256) and not await media.exists(gone.evidence_sha256)  # type: ignore[arg-type]
    assert await media.exists(kept.thumbnail_sha256) and await media.exists(kept.sha256)  # type: ignore[arg-type]

    again = await _run(uow_factory, media, policy, clock)
    assert again == RetentionCounts()  # nothing left to do, and no audit entry for nothing


async def test_draft_photos_go_after_the_grace_period_but_not_before(
    uow_factory: UnitOfWorkFactory, world: World, media: LocalMediaStore, policy: Policy, clock: FixedClock
) -> None:
    now = clock.now()
    abandoned = await _photo(uow_factory, media, None, b"abandoned", at=now - timedelta(days=3))
    fresh = await _photo(uow_factory, media, None, b"fresh", at=now - timedelta(days=1))
    in_open_form = await _photo(uow_factory, media, None, b"form", at=now - timedelta(days=5))
    async with uow_factory() as uow:
        uow.session.add(ConversationDraft(account_id=42, staff_id=world.staff["teacher_a"].id, form="visit",
                                          step="photos", answers={"photos": [in_open_form.id]},
                                          updated_at=now - timedelta(days=5)))  # fmt: skip
        await uow.commit()

    done = await _run(uow_factory, media, policy, clock)

    assert (done.draft_photos, done.files) == (1, 3)
    async with uow_factory() as uow:
        assert await uow.session.get(Attachment, abandoned.id) is None
        assert await uow.session.get(Attachment, fresh.id) is not None
        assert await uow.session.get(Attachment, in_open_form.id) is not None
    assert not await media.exists(abandoned.sha256) and await media.exists(fresh.sha256)


async def test_stray_files_go_only_when_no_row_names_them_and_they_are_old(
    uow_factory: UnitOfWorkFactory, media: LocalMediaStore, policy: Policy
) -> None:
    # File times are the system clock's, so this test runs the job at the real time.
    real = FixedClock(datetime.now(UTC))
    old_stray = await media.put(b"left by a failed upload")
    new_stray = await media.put(b"an upload still in flight")
    named = await _photo(uow_factory, media, None, b"named", at=real.now())
    three_days = real.now().timestamp() - 3 * 86400
    for key in (old_stray, named.sha256):
        os.utime(media._path(key), (three_days, three_days))

    done = await _run(uow_factory, media, policy, real)

    assert done.stray_files == 1
    assert not await media.exists(old_stray)
    assert await media.exists(new_stray) and await media.exists(named.sha256)


async def test_audit_and_telegram_rows_are_kept_for_their_limits_only(
    uow_factory: UnitOfWorkFactory, media: LocalMediaStore, policy: Policy, clock: FixedClock
) -> None:
    now = clock.now()
    async with uow_factory() as uow:
        s = uow.session
        for at in (now - timedelta(days=4 * 365), now - timedelta(days=2 * 365)):
            s.add(
                AuditEntry(at=at, actor_label="cli", action="view", entity="case", entity_id="1", detail={})
            )
        bot = {"channel": "telegram", "bot_id": 1}
        s.add_all([ProcessedUpdate(**bot, update_id=1, processed_at=now - timedelta(days=4)),
                   ProcessedUpdate(**bot, update_id=2, processed_at=now - timedelta(days=1)),
                   InboxUpdate(**bot, update_id=3, received_at=now - timedelta(days=8), payload={"message": {"text": "x"}}),
                   InboxUpdate(**bot, update_id=4, received_at=now - timedelta(hours=1), payload={})])  # fmt: skip
        await uow.commit()

    preview = await _run(uow_factory, media, policy, clock, dry_run=True)
    done = await _run(uow_factory, media, policy, clock)

    expected = (1, 1, 1)
    assert (preview.audit_entries, preview.processed_updates, preview.inbox_updates) == expected
    assert (done.audit_entries, done.processed_updates, done.inbox_updates) == expected
    async with uow_factory() as uow:
        ids = [u.update_id for u in await uow.session.scalars(select(ProcessedUpdate))]
        assert ids == [2]
        assert [e.action for e in await uow.audit.entries()] == ["view", "retention"]
