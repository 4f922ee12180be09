"""Return confirmation: RETURNED then straight into retention, every validation, double submits, scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.casework.returns import AlreadyReturned, ReturnReport, confirm_return, returnable_cases
from domain.clock import FixedClock
from domain.errors import InvalidInput, NotInScope
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.reminders.rules import RETENTION_CHECK
from storage import outbox
from storage.models import Attachment, Case
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 10, 13)  # the clock fixture's day in Beijing
SINCE = TODAY - timedelta(days=4)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


@pytest.fixture
async def open_case(uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy) -> Case:
    """A suspected-dropout case of a class A pupil (home village A), reported four days ago."""
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff["teacher_a"].id)
        assert staff is not None
        report = AbsenceReport(student_id=world.student_in(world.class_a).id, absent_since=SINCE)
        case, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            report,
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    return case


async def _confirm(
    uow_factory: UnitOfWorkFactory,
    world: World,
    who: str,
    clock: FixedClock,
    policy: Policy,
    report: ReturnReport,
) -> Case:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        try:
            return await confirm_return(
                uow,
                await scope_for(uow, staff),
                Actor(staff.id, f"test:{who}"),
                report,
                now=clock.now(),
                policy=policy,
                tz=TZ,
            )
        finally:
            await uow.commit()  # keeps the audit entry of a refusal, as the bot does


async def test_confirmed_return_starts_the_retention_watch(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    report = ReturnReport(open_case.id, TODAY - timedelta(days=1), "seen_in_class")
    case = await _confirm(uow_factory, world, "teacher_a", clock, policy, report)
    assert case.status == CaseStatus.RETENTION and case.closed_at is None
    assert case.returned_on == TODAY - timedelta(days=1)
    assert case.visit_due_at is None and case.verification_due_at is None
    async with uow_factory() as uow:
        events = {e.kind: e for e in await uow.cases.events(open_case.id)}
    returned, retention = events["return_confirmed"], events["retention_started"]
    assert (returned.from_status, returned.to_status) == (CaseStatus.SUSPECTED, CaseStatus.RETURNED)
    assert returned.data["method"] == "seen_in_class" and returned.data["returned_on"] == "2026-10-12"
    assert returned.occurred_at.astimezone(TZ).date() == TODAY - timedelta(days=1)
    assert retention.to_status == CaseStatus.RETENTION
    assert retention.data["retention_checks_due"] == ["2026-10-26", "2026-11-11"]


async def test_return_replaces_absence_reminders_with_retention_checks(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    async with uow_factory() as uow:
        before = {
            r.kind for r in await outbox.rows_of_case(uow.session, open_case.id) if r.state == outbox.PENDING
        }
    assert before and RETENTION_CHECK not in before
    await _confirm(
        uow_factory, world, "teacher_a", clock, policy, ReturnReport(open_case.id, TODAY, "seen_in_class")
    )
    async with uow_factory() as uow:
        pending = [
            r for r in await outbox.rows_of_case(uow.session, open_case.id) if r.state == outbox.PENDING
        ]
    # The first check (one at a time), and the principal if nobody answers it.
    assert {r.kind for r in pending} == {RETENTION_CHECK, "overdue"}
    assert {r.payload["check"] for r in pending} == {1}


async def test_village_cadre_confirms_a_return_in_their_village_with_a_photo(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    async with uow_factory() as uow:
        photo = Attachment(
            sha256="a" * 64,
            media_type="image/jpeg",
            size_bytes=10,
            uploaded_by_id=world.staff["cadre_a"].id,
            created_at=clock.now(),
        )
        uow.session.add(photo)
        await uow.commit()
    report = ReturnReport(open_case.id, TODAY, "other", "家长送到校门口，班主任电话确认", [photo.id])
    case = await _confirm(uow_factory, world, "cadre_a", clock, policy, report)
    assert case.status == CaseStatus.RETENTION
    async with uow_factory() as uow:
        stored = await uow.session.get(Attachment, photo.id)
        event = next(e for e in await uow.cases.events(case.id) if e.kind == "return_confirmed")
    assert stored is not None and (stored.case_id, stored.event_id) == (case.id, event.id)
    assert event.data["method_note"] == "家长送到校门口，班主任电话确认"


async def test_second_confirmation_is_refused_and_records_nothing(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    report = ReturnReport(open_case.id, TODAY, "school_confirmed")
    await _confirm(uow_factory, world, "teacher_a", clock, policy, report)
    with pytest.raises(AlreadyReturned):
        await _confirm(uow_factory, world, "cadre_a", clock, policy, report)
    async with uow_factory() as uow:
        kinds = [e.kind for e in await uow.cases.events(open_case.id)]
        assert kinds.count("return_confirmed") == 1 and kinds.count("retention_started") == 1
        assert await returnable_cases(uow, await scope_for(uow, world.staff["teacher_a"])) == []


@pytest.mark.parametrize(
    ("returned_on", "method", "note", "code"),
    [
        (TODAY + timedelta(days=1), "seen_in_class", None, "date_in_future"),
        (SINCE - timedelta(days=1), "seen_in_class", None, "returned_before_absence"),
        (TODAY, "other", "  ", "method_note_required"),
        (TODAY, "guessed", None, "unknown_method"),
    ],
)
async def test_invalid_confirmation_changes_nothing(
    uow_factory: UnitOfWorkFactory,
    world: World,
    open_case: Case,
    clock: FixedClock,
    policy: Policy,
    returned_on: date,
    method: str,
    note: str | None,
    code: str,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await _confirm(
            uow_factory,
            world,
            "teacher_a",
            clock,
            policy,
            ReturnReport(open_case.id, returned_on, method, note),
        )
    assert raised.value.code == code
    async with uow_factory() as uow:
        case = await uow.cases.get(open_case.id)
        assert case is not None and case.status == CaseStatus.SUSPECTED and case.returned_on is None


async def test_someone_elses_photo_cannot_be_attached(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    async with uow_factory() as uow:
        photo = Attachment(
            sha256="b" * 64,
            media_type="image/jpeg",
            size_bytes=10,
            uploaded_by_id=world.staff["teacher_b"].id,
            created_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
        uow.session.add(photo)
        await uow.commit()
    with pytest.raises(InvalidInput):
        await _confirm(
            uow_factory,
            world,
            "teacher_a",
            clock,
            policy,
            ReturnReport(open_case.id, TODAY, "seen_in_class", attachment_ids=[photo.id]),
        )


@pytest.mark.parametrize("who", ["cadre_b", "teacher_b"])
async def test_case_outside_scope_is_refused_and_audited(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy, who: str
) -> None:
    with pytest.raises(NotInScope):
        await _confirm(
            uow_factory, world, who, clock, policy, ReturnReport(open_case.id, TODAY, "seen_in_class")
        )
    async with uow_factory() as uow:
        denied = await uow.audit.entries("denied")
        assert [(e.entity, e.entity_id, e.actor_id) for e in denied] == [
            ("case", str(open_case.id), world.staff[who].id)
        ]
        case = await uow.cases.get(open_case.id)
        assert case is not None and case.status == CaseStatus.SUSPECTED


async def test_returnable_cases_follow_scope(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case
) -> None:
    async with uow_factory() as uow:
        seen = {
            who: [c.id for c in await returnable_cases(uow, await scope_for(uow, world.staff[who]))]
            for who in ("teacher_a", "cadre_a", "principal", "teacher_b", "cadre_b")
        }
    assert seen == {
        "teacher_a": [open_case.id],
        "cadre_a": [open_case.id],
        "principal": [open_case.id],
        "teacher_b": [],
        "cadre_b": [],
    }


async def test_where_the_child_returned_the_record_and_the_support_measures_are_kept(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    report = ReturnReport(
        open_case.id,
        TODAY,
        "school_confirmed",
        receiving_school=" 县第二小学 ",
        receiving_class="六年级(1)班",
        record_restored=True,
        support_measures=["tutoring", "mentoring"],
    )
    await _confirm(uow_factory, world, "teacher_a", clock, policy, report)
    async with uow_factory() as uow:
        event = next(e for e in await uow.cases.events(open_case.id) if e.kind == "return_confirmed")
    assert (event.data["receiving_school"], event.data["receiving_class"]) == ("县第二小学", "六年级(1)班")
    assert event.data["record_restored"] is True
    assert event.data["support_measures"] == ["mentoring", "tutoring"]  # in the code list's order


async def test_back_at_the_own_school_records_no_other_school(
    uow_factory: UnitOfWorkFactory, world: World, open_case: Case, clock: FixedClock, policy: Policy
) -> None:
    report = ReturnReport(open_case.id, TODAY, "seen_in_class", record_restored=False)
    await _confirm(uow_factory, world, "teacher_a", clock, policy, report)
    async with uow_factory() as uow:
        event = next(e for e in await uow.cases.events(open_case.id) if e.kind == "return_confirmed")
    assert (event.data["receiving_school"], event.data["receiving_class"]) == (None, None)
    assert event.data["record_restored"] is False and event.data["support_measures"] == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"receiving_school": "县第二小学"}, "receiving_school_and_class"),
        ({"receiving_class": "六年级(1)班"}, "receiving_school_and_class"),
        ({"receiving_school": "校" * 101, "receiving_class": "一班"}, "receiving_too_long"),
        ({"support_measures": ["mentoring", "bribery"]}, "unknown_support_measure"),
        ({"support_measures": ["vocational"]}, "unknown_support_measure"),  # retired below
    ],
)
async def test_an_incomplete_other_school_or_an_unknown_measure_is_refused(
    uow_factory: UnitOfWorkFactory,
    world: World,
    open_case: Case,
    clock: FixedClock,
    policy: Policy,
    changes: dict[str, object],
    code: str,
) -> None:
    async with uow_factory() as uow:
        retired = await uow.codes.get("support_measure", "vocational")
        assert retired is not None
        retired.active = False
        await uow.commit()
    report = ReturnReport(open_case.id, TODAY, "seen_in_class", **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as refused:
        await _confirm(uow_factory, world, "teacher_a", clock, policy, report)
    assert refused.value.code == code
    async with uow_factory() as uow:
        case = await uow.cases.get(open_case.id)
        assert case is not None and case.status == CaseStatus.SUSPECTED
