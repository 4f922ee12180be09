"""Visits in the domain: the status table, how the visit took place, the notice (after earlier visits,
in person, 7-day clock), the next follow-up date, evidence links, scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import VISITABLE, CaseStatus
from domain.casework.visits import (
    OUTCOMES,
    VISIT_MOVES,
    VisitReport,
    notice_allowed,
    outcomes_for,
    planned_moves,
    record_visit,
)
from domain.clock import FixedClock
from domain.errors import InvalidInput, InvalidTransition, NotInScope
from domain.people.scope import scope_for
from domain.policy import Policy
from storage import outbox
from storage.models import Attachment, Case, CaseEvent
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = ZoneInfo("Asia/Shanghai")
S = CaseStatus


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


@pytest.fixture
def today(clock: FixedClock) -> date:
    return clock.now().astimezone(TZ).date()


async def open_case(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
    status: CaseStatus = S.ABSENT,
    days_absent: int = 1,
) -> Case:
    """A case of the first pupil of class A, put straight into `status` (test setup, not a lifecycle move)."""
    pupil = world.student_in(world.class_a)
    async with uow_factory() as uow:
        teacher = await uow.directory.staff(world.staff["teacher_a"].id)
        assert teacher is not None
        report = AbsenceReport(
            student_id=pupil.id, absent_since=clock.now().astimezone(TZ).date() - timedelta(days=days_absent)
        )
        case, _ = await report_absence(
            uow,
            await scope_for(uow, teacher),
            Actor(teacher.id, "test"),
            report,
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        case.status = status.value
        await uow.commit()
    return case


async def visit(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
    who: str,
    report: VisitReport,
) -> CaseEvent:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        event = await record_visit(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, f"test:{who}"),
            report,
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    return event


def report_for(case: Case, today: date, outcome: str = "agreed_to_return", /, **kw: object) -> VisitReport:
    """A phone call by default: no photos, no location needed."""
    defaults: dict[str, object] = {"met": "guardian", "mode": "phone", "visited_on": today}
    if outcome == "agreed_to_return":
        defaults["promised_return_on"] = today + timedelta(days=3)
    return VisitReport(case_id=case.id, outcome=outcome, **{**defaults, **kw})  # type: ignore[arg-type]


async def add_photo(uow_factory: UnitOfWorkFactory, case: Case, uploader: int, clock: FixedClock) -> int:
    async with uow_factory() as uow:
        row = Attachment(
            case_id=case.id,
            sha256="a" * 64,
            media_type="image/jpeg",
            size_bytes=10,
            uploaded_by_id=uploader,
            created_at=clock.now(),
        )
        uow.session.add(row)
        await uow.commit()
    return row.id


async def in_person(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    case: Case,
    today: date,
    outcome: str = "refused",
    **kw: object,
) -> VisitReport:
    """A talk at school (到校约谈) with its photo: what serving the notice needs."""
    photo = await add_photo(uow_factory, case, world.staff["teacher_a"].id, clock)
    return report_for(case, today, outcome, mode="school", attachment_ids=[photo], **kw)


def test_the_status_table_only_uses_lifecycle_moves() -> None:
    for status in VISITABLE:
        for outcome in OUTCOMES:
            planned_moves(status, outcome, False)  # raises InvalidTransition if the table were wrong
    assert set(VISIT_MOVES) <= VISITABLE


@pytest.mark.parametrize(
    ("start", "outcome", "end", "moves"),
    [
        (S.ABSENT, "agreed_to_return", S.VERIFYING, 1),
        (S.ABSENT, "refused", S.DROPPED_OUT, 2),
        (S.ABSENT, "unreachable", S.ABSENT, 0),
        (S.SUSPECTED, "working_away", S.DROPPED_OUT, 1),
        (S.VERIFYING, "refused", S.DROPPED_OUT, 1),
        (S.VERIFYING, "enrolled_elsewhere", S.VERIFYING, 0),
        (S.MISSING, "ill_or_disabled", S.VERIFYING, 1),
        (S.DROPPED_OUT, "agreed_to_return", S.PERSUADING, 1),
        (S.DROPPED_OUT, "unreachable", S.DROPPED_OUT, 0),
        (S.PERSUADING, "refused", S.PERSUADING, 0),
    ],
)
async def test_a_visit_moves_the_case_as_the_table_says(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
    today: date,
    start: CaseStatus,
    outcome: str,
    end: CaseStatus,
    moves: int,
) -> None:
    case = await open_case(uow_factory, world, clock, policy, start)
    extra = {"other_school": "县第二小学"} if outcome == "enrolled_elsewhere" else {}
    event = await visit(
        uow_factory, world, clock, policy, "teacher_a", report_for(case, today, outcome, **extra)
    )
    async with uow_factory() as uow:
        stored = await uow.cases.get(case.id)
        events = await uow.cases.events(case.id)
    assert stored is not None and stored.status == end
    assert [e.kind for e in events].count("visit_logged") == 1
    changes = [e for e in events if e.kind == "status_changed"]
    assert len(changes) == moves and all(e.data["visit_event"] == event.id for e in changes)
    assert event.data["outcome"] == outcome and event.data["visitors"] == [world.staff["teacher_a"].id]


async def test_serving_the_notice_starts_the_seven_day_clock(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy, S.DROPPED_OUT)
    await visit(uow_factory, world, clock, policy, "teacher_a", report_for(case, today, "refused"))
    served = await in_person(uow_factory, world, clock, case, today, notice_served=True)
    await visit(uow_factory, world, clock, policy, "teacher_a", served)
    async with uow_factory() as uow:
        stored = await uow.cases.get(case.id)
        kinds = [(e.kind, e.to_status) for e in await uow.cases.events(case.id)]
    assert stored is not None and stored.status == S.NOTICE_ISSUED
    assert stored.return_due_at == clock.now() + timedelta(days=7)
    assert kinds[-3:] == [
        ("status_changed", "persuading"),
        ("visit_logged", None),
        ("notice_served", "notice_issued"),
    ]


async def test_a_visit_replaces_the_visit_reminders_and_a_notice_plans_the_return_check(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)

    async def pending() -> set[str]:
        async with uow_factory() as uow:
            return {
                r.kind for r in await outbox.rows_of_case(uow.session, case.id) if r.state == outbox.PENDING
            }

    assert "first_visit" in await pending()
    await visit(uow_factory, world, clock, policy, "teacher_a", report_for(case, today, "refused"))
    kinds = await pending()
    assert "first_visit" not in kinds and "persuade" in kinds  # a confirmed dropout: persuasion visits
    served = await in_person(uow_factory, world, clock, case, today, notice_served=True)
    await visit(uow_factory, world, clock, policy, "teacher_a", served)
    kinds = await pending()
    assert "persuade" not in kinds and "return_check" in kinds


async def test_serving_the_notice_again_restarts_the_clock_without_a_status_change(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy, S.NOTICE_ISSUED)
    await visit(uow_factory, world, clock, policy, "teacher_a", report_for(case, today, "refused"))
    served = await in_person(uow_factory, world, clock, case, today, notice_served=True)
    await visit(uow_factory, world, clock, policy, "teacher_a", served)
    async with uow_factory() as uow:
        stored = await uow.cases.get(case.id)
        events = await uow.cases.events(case.id)
    assert stored is not None and stored.status == S.NOTICE_ISSUED
    assert stored.return_due_at == clock.now() + timedelta(days=7)
    assert events[-1].kind == "notice_served" and events[-1].to_status is None


async def test_a_notice_before_the_dropout_is_confirmed_is_an_illegal_move_and_changes_nothing(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy, S.VERIFYING)
    with pytest.raises(InvalidTransition):
        await visit(
            uow_factory,
            world,
            clock,
            policy,
            "teacher_a",
            report_for(case, today, "agreed_to_return", notice_served=True),
        )
    async with uow_factory() as uow:
        stored = await uow.cases.get(case.id)
        kinds = [e.kind for e in await uow.cases.events(case.id)]
    assert stored is not None and stored.status == S.VERIFYING and stored.return_due_at is None
    assert "visit_logged" not in kinds


async def test_photos_are_linked_to_the_visit(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    teacher = world.staff["teacher_a"].id
    photos = [await add_photo(uow_factory, case, teacher, clock) for _ in range(2)]
    event = await visit(
        uow_factory,
        world,
        clock,
        policy,
        "teacher_a",
        report_for(case, today, mode="home", attachment_ids=photos, location=(29.56301, 106.55156)),
    )
    async with uow_factory() as uow:
        linked = await uow.attachments.of_event(event.id)
    assert [a.id for a in linked] == photos
    assert event.data["attachments"] == photos and event.data["location"] == {
        "lat": 29.56301,
        "lon": 106.55156,
    }
    assert event.data["no_location_reason"] is None


async def test_someone_elses_photo_or_a_stray_visitor_is_refused(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    foreign = await add_photo(uow_factory, case, world.staff["subject"].id, clock)
    with pytest.raises(InvalidInput) as refused:
        await visit(
            uow_factory, world, clock, policy, "teacher_a", report_for(case, today, attachment_ids=[foreign])
        )
    assert refused.value.code == "attachment_not_yours"
    with pytest.raises(InvalidInput) as stray:
        await visit(
            uow_factory,
            world,
            clock,
            policy,
            "teacher_a",
            report_for(case, today, visitors=[world.staff["cadre_b"].id]),
        )
    assert stray.value.code == "visitor_not_eligible"
    team = [world.staff["cadre_a"].id, world.staff["principal"].id]
    event = await visit(
        uow_factory, world, clock, policy, "teacher_a", report_for(case, today, visitors=team)
    )
    assert event.data["visitors"] == sorted([*team, world.staff["teacher_a"].id])


@pytest.mark.parametrize(("offset", "code"), [(1, "date_in_future"), (-5, "visit_before_absence")])
async def test_visit_dates_in_the_future_or_before_the_absence_are_refused(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
    today: date,
    offset: int,
    code: str,
) -> None:
    case = await open_case(uow_factory, world, clock, policy, days_absent=2)
    with pytest.raises(InvalidInput) as refused:
        await visit(
            uow_factory,
            world,
            clock,
            policy,
            "teacher_a",
            report_for(case, today, visited_on=today + timedelta(days=offset)),
        )
    assert refused.value.code == code


async def test_the_village_cadre_may_log_a_visit_but_another_class_teacher_may_not(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    with pytest.raises(NotInScope):
        async with uow_factory() as uow:
            other = await uow.directory.staff(world.staff["teacher_b"].id)
            assert other is not None
            try:
                await record_visit(
                    uow,
                    await scope_for(uow, other),
                    Actor(other.id, "test"),
                    report_for(case, today),
                    now=clock.now(),
                    policy=policy,
                    tz=TZ,
                )
            finally:
                await uow.commit()  # the refusal is audited even though nothing else is saved
    async with uow_factory() as uow:
        denied = await uow.audit.entries("denied")
        assert other is not None
        assert [(e.entity, e.entity_id, e.actor_id) for e in denied] == [("case", str(case.id), other.id)]
        assert "visit_logged" not in [e.kind for e in await uow.cases.events(case.id)]
    event = await visit(uow_factory, world, clock, policy, "cadre_a", report_for(case, today))
    assert event.actor_id == world.staff["cadre_a"].id


async def test_a_phone_call_needs_no_photo_nor_location(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    report = report_for(case, today, "unreachable", met="nobody", no_location_reason="ignored")
    event = await visit(uow_factory, world, clock, policy, "teacher_a", report)
    assert event.data["mode"] == "phone" and event.data["attachments"] == []
    assert event.data["location"] is None and event.data["no_location_reason"] is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"mode": "home", "no_location_reason": "no signal"}, "photos_required"),
        ({"mode": "school"}, "photos_required"),
        ({"mode": "letter"}, "unknown_mode"),
        ({"location": (29.5, 106.5)}, "location_only_for_home_visits"),
        ({"mode": "video", "location": (29.5, 106.5)}, "location_only_for_home_visits"),
        ({"met": "nobody"}, "outcome_needs_someone_met"),
    ],
)
async def test_what_the_way_of_visiting_or_whom_it_met_rules_out_is_refused(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
    today: date,
    changes: dict[str, object],
    code: str,
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    with pytest.raises(InvalidInput) as refused:
        await visit(uow_factory, world, clock, policy, "teacher_a", report_for(case, today, **changes))
    assert refused.value.code == code
    async with uow_factory() as uow:
        assert "visit_logged" not in [e.kind for e in await uow.cases.events(case.id)]


async def test_a_home_visit_needs_a_photo_and_a_location_or_why_not(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    photo = await add_photo(uow_factory, case, world.staff["teacher_a"].id, clock)
    with pytest.raises(InvalidInput) as refused:
        await visit(
            uow_factory,
            world,
            clock,
            policy,
            "teacher_a",
            report_for(case, today, mode="home", attachment_ids=[photo]),
        )
    assert refused.value.code == "no_location_reason"
    report = report_for(case, today, mode="home", attachment_ids=[photo], no_location_reason="no signal")
    event = await visit(uow_factory, world, clock, policy, "teacher_a", report)
    assert (event.data["mode"], event.data["no_location_reason"]) == ("home", "no signal")


@pytest.mark.parametrize("outcome", ["agreed_to_return", "refused"])
async def test_nobody_met_cannot_agree_or_refuse(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date, outcome: str
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    with pytest.raises(InvalidInput) as refused:
        await visit(
            uow_factory, world, clock, policy, "teacher_a", report_for(case, today, outcome, met="nobody")
        )
    assert refused.value.code == "outcome_needs_someone_met"
    assert refused.value.params == {"outcome": outcome}


@pytest.mark.parametrize(
    ("visited_ago", "follow_up_in", "ok"),
    [
        (0, 1, True),
        (0, 60, True),
        (3, 0, True),  # a visit three days ago: today is after it and not past
        (0, 0, False),  # not after the visit
        (3, -1, False),  # in the past
        (0, 61, False),  # beyond 60 days
    ],
)
async def test_the_next_follow_up_date_is_after_the_visit_not_past_and_within_60_days(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
    today: date,
    visited_ago: int,
    follow_up_in: int,
    ok: bool,
) -> None:
    case = await open_case(uow_factory, world, clock, policy, days_absent=5)
    follow_up = today + timedelta(days=follow_up_in)
    report = report_for(
        case,
        today,
        "unreachable",
        visited_on=today - timedelta(days=visited_ago),
        next_follow_up_on=follow_up,
    )
    if not ok:
        with pytest.raises(InvalidInput) as refused:
            await visit(uow_factory, world, clock, policy, "teacher_a", report)
        assert refused.value.code == "next_follow_up_on" and refused.value.params["days"] == 60
        return
    event = await visit(uow_factory, world, clock, policy, "teacher_a", report)
    assert event.data["next_follow_up_on"] == follow_up.isoformat()


async def test_without_a_follow_up_date_the_event_says_so(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    event = await visit(uow_factory, world, clock, policy, "teacher_a", report_for(case, today))
    assert event.data["next_follow_up_on"] is None


async def test_the_notice_waits_for_an_earlier_visit(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy, S.DROPPED_OUT)
    served = await in_person(uow_factory, world, clock, case, today, notice_served=True)
    with pytest.raises(InvalidInput) as refused:
        await visit(uow_factory, world, clock, policy, "teacher_a", served)
    assert refused.value.code == "notice_too_early"
    assert refused.value.params == {"minimum": 1, "visits": 0}
    async with uow_factory() as uow:
        stored = await uow.cases.get(case.id)
        assert stored is not None and stored.status == S.DROPPED_OUT
    lenient = replace(policy, steps=replace(policy.steps, notice_min_prior_visits=0))
    await visit(uow_factory, world, clock, lenient, "teacher_a", served)
    async with uow_factory() as uow:
        stored = await uow.cases.get(case.id)
        assert stored is not None and stored.status == S.NOTICE_ISSUED


async def test_the_notice_is_served_in_person_only(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, today: date
) -> None:
    case = await open_case(uow_factory, world, clock, policy, S.DROPPED_OUT)
    await visit(uow_factory, world, clock, policy, "teacher_a", report_for(case, today, "refused"))
    with pytest.raises(InvalidInput) as refused:
        await visit(
            uow_factory,
            world,
            clock,
            policy,
            "teacher_a",
            report_for(case, today, "refused", mode="video", notice_served=True),
        )
    assert refused.value.code == "notice_in_person_only"


def test_notice_allowed_agrees_with_the_rules() -> None:
    def allowed(status: str, outcome: str, mode: str = "home", earlier: int = 1) -> bool:
        return notice_allowed(status, outcome, mode=mode, earlier_visits=earlier, min_prior_visits=1)

    assert allowed("dropped_out", "refused") and allowed("persuading", "refused", mode="school")
    assert not allowed("dropped_out", "refused", earlier=0)
    assert not allowed("dropped_out", "refused", mode="phone")
    assert not allowed("verifying", "agreed_to_return")
    assert outcomes_for("nobody") == tuple(o for o in OUTCOMES if o not in ("agreed_to_return", "refused"))
    assert outcomes_for("guardian") == OUTCOMES
