"""No case ever goes silent: random sequences of what teachers, coordinators and the clock do to a case
(reports, visits of every outcome, notices, returns, retention checks, decisions, acknowledgements,
reminders going out, automatic moves, days passing), on SQLite and PostgreSQL, with the invariant of
domain.casework.invariant checked after every single step.

Default: 2 000 sequences per backend (4 000 in all). The full drill: HYPOTHESIS_PROFILE=drill (5 000 each).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.container import Services, build_services
from app.settings import load_settings
from domain.audit import Actor
from domain.casework.automatic import apply_automatic_step
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.decision_offers import offered_decisions
from domain.casework.decisions import DECISIONS, Decision, decide
from domain.casework.escalations import acknowledge
from domain.casework.invariant import silent_cases
from domain.casework.returns import ReturnReport, confirm_return
from domain.casework.visits import MET, OUTCOMES, VisitReport, record_visit
from domain.clock import FixedClock
from domain.errors import DomainError
from domain.people.scope import scope_for
from domain.reminders.actions import record_retention_check
from domain.reminders.delivery import prepare, record_sent
from domain.reminders.planning import plan_case_reminders
from storage import outbox
from storage.models import Attachment, Case, ChannelAccount, Reminder, Staff, Student
from storage.uow import UnitOfWork
from tests import db
from tests.factories import World, build_world

FULL = os.environ.get("HYPOTHESIS_PROFILE") == "drill"
SEQUENCES = int(os.environ.get("PROPERTY_SEQUENCES") or (5000 if FULL else 2000))  # per backend
COORDINATORS = ("principal", "township", "county")
# Plausible codes for each decision (a pick past the list's end sends a wrong one, which must be refused).
CODES: dict[str, tuple[str | None, ...]] = {
    "classify": ("A2", "A3", "A4", "A8", "I", "L", "G", "B"),
    "clear": ("A", "B", "C", "D", "F", "H", "B2"),
    "defer": ("E",),
}
WORKER = "property"

OP = st.one_of(
    st.tuples(st.just("report"), st.integers(0, 8), st.booleans()),
    st.tuples(
        st.just("visit"),
        st.integers(0, len(OUTCOMES) - 1),
        st.integers(0, len(MET) - 1),
        st.booleans(),
        st.integers(1, 20),
        st.one_of(st.none(), st.integers(1, 20)),
    ),
    st.tuples(st.just("return")),
    st.tuples(st.just("check"), st.booleans()),
    st.tuples(st.just("check"), st.just(True)),
    st.tuples(st.just("check"), st.just(True)),
    st.tuples(
        st.just("decide"),
        st.integers(0, 2),
        st.integers(0, 50),
        st.integers(0, 9),
        st.one_of(st.none(), st.integers(-3, 200)),
        st.integers(0, 9),
    ),
    st.tuples(
        st.just("decide"),
        st.integers(0, 2),
        st.integers(0, 39),
        st.integers(0, 7),
        st.integers(1, 60),
        st.just(1),
    ),
    st.tuples(st.just("ack"), st.integers(0, 2)),
    st.tuples(st.just("ack"), st.integers(0, 2)),
    st.tuples(st.just("tick")),
    st.tuples(st.just("tick")),
    st.tuples(st.just("advance"), st.integers(10, 60 * 24 * 20)),
    st.tuples(st.just("advance"), st.integers(60 * 24, 60 * 24 * 40)),
)


@dataclass
class Lab:
    loop: asyncio.AbstractEventLoop
    services: Services
    clock: FixedClock
    world: World
    pupils: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)


async def _bind_everyone(services: Services, world: World) -> None:
    """Everyone can be reached, so reminders go out (through the real delivery code, minus HTTP)."""
    async with services.uow() as uow:
        for n, staff in enumerate(world.staff.values(), start=1):
            uow.session.add(
                ChannelAccount(
                    staff_id=staff.id,
                    channel="telegram",
                    account=str(9_000_000 + n),
                    conversation=str(9_000_000 + n),
                    bound_at=services.clock.now(),
                )
            )
        await uow.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def lab(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Lab]:
    loop = asyncio.new_event_loop()
    if request.param == "sqlite":
        url = db.copy_sqlite(sqlite_template, tmp_path / "property.db")
    else:
        dsn = request.getfixturevalue("postgres_run_dsn")
        if dsn is None:
            pytest.skip("PostgreSQL not reachable (tests run on it under CI=true)")
        url = db.sqlalchemy_url(dsn)
    clock = FixedClock(datetime(2026, 9, 1, 1, 0, tzinfo=UTC))
    services = build_services(load_settings(database_url=url, media_dir=tmp_path / "media"), clock)
    if request.param == "postgresql":
        loop.run_until_complete(db.empty_tables(services.engine))
    world = loop.run_until_complete(build_world(services.uow, pupils_per_class=1))
    loop.run_until_complete(_bind_everyone(services, world))
    state = Lab(loop, services, clock, world)
    yield state
    try:

        async def everything() -> list[Any]:
            async with services.uow() as uow:
                return await silent_cases(uow, limit=100_000)

        assert loop.run_until_complete(everything()) == []  # every case of every sequence, at the end
    finally:
        print(
            f"property: {state.pupils} sequences; applied {dict(state.applied)}; refused "
            f"{dict(state.refused)}; final statuses {dict(state.statuses)}"
        )
        loop.run_until_complete(services.close())
        loop.close()


async def _new_pupil(lab: Lab) -> int:
    lab.pupils += 1
    cls = lab.world.class_a if lab.pupils % 2 else lab.world.class_b
    village = lab.world.village_a if lab.pupils % 2 else lab.world.village_b
    async with lab.services.uow() as uow:
        pupil = Student(
            student_number=f"P{lab.pupils:09d}",
            name=f"测试{lab.pupils}",
            sex="F",
            birth_date=date(2015, 3, 1),
            school_id=lab.world.school.id,
            class_id=cls.id,
            home_village_id=village.id,
        )
        uow.session.add(pupil)
        await uow.commit()
        return pupil.id


def _teacher(lab: Lab, student_class: int) -> Staff:
    return lab.world.staff["teacher_a" if student_class == lab.world.class_a.id else "teacher_b"]


async def _deliver(lab: Lab, case_id: int) -> None:
    """What the scheduler does for this case: send what is due, move what a deadline moves, replan."""
    s, now = lab.services, lab.clock.now()
    async with s.uow() as uow:
        due = (
            await uow.session.scalars(
                select(Reminder.id).where(
                    Reminder.case_id == case_id, Reminder.state == outbox.PENDING, Reminder.send_after <= now
                )
            )
        ).all()
    for reminder_id in due:
        async with s.uow() as uow:
            if not await outbox.change(
                uow.session,
                reminder_id,
                when_state=outbox.PENDING,
                state=outbox.CLAIMED,
                claimed_by=WORKER,
                claimed_at=now,
            ):
                continue
            row = await outbox.get(uow.session, reminder_id)
            assert row is not None
            delivery = await prepare(
                uow, row, WORKER, now=now, policy=s.policy, tz=s.tz, default_language="zh_CN"
            )
            if delivery is not None:
                await record_sent(uow, delivery, WORKER, "1", now)
            await uow.commit()
    async with s.uow() as uow:
        case = await uow.cases.get(case_id)
        assert case is not None
        await apply_automatic_step(uow, case, now=now, policy=s.policy, tz=s.tz)
        await plan_case_reminders(uow, case, policy=s.policy, now=now, tz=s.tz)
        await uow.commit()


async def _step(lab: Lab, op: tuple[Any, ...], pupil_id: int, case_id: int | None) -> int | None:
    """Applies one operation in its own transaction; a refusal changes nothing. Returns the case id."""
    s, now = lab.services, lab.clock.now()
    today = now.astimezone(s.tz).date()
    name = op[0]
    if name == "advance":
        lab.clock.advance(timedelta(minutes=op[1]))
        return case_id
    if name == "tick":
        if case_id is not None:
            await _deliver(lab, case_id)
        return case_id
    if name == "check" and case_id is not None:
        await _to_check_day(lab, case_id)
        now = lab.clock.now()
        today = now.astimezone(s.tz).date()
    async with s.uow() as uow:
        pupil = await uow.students.get(pupil_id)
        assert pupil is not None and pupil.class_id is not None
        teacher = _teacher(lab, pupil.class_id)
        coordinator = lab.world.staff[COORDINATORS[op[1]]] if name in ("decide", "ack") else teacher
        person = await uow.directory.staff(coordinator.id)
        assert person is not None
        scope, actor = await scope_for(uow, person), Actor(person.id, "property")
        try:
            if name == "report":
                report = AbsenceReport(pupil_id, today - timedelta(days=op[1]), suspected=op[2])
                case, _ = await report_absence(uow, scope, actor, report, now=now, policy=s.policy, tz=s.tz)
                case_id = case.id
            elif case_id is None:
                return None
            elif name == "visit":
                outcome = OUTCOMES[op[1]]
                await record_visit(
                    uow,
                    scope,
                    actor,
                    VisitReport(
                        case_id=case_id,
                        visited_on=today,
                        met=MET[op[2]],
                        outcome=outcome,
                        notice_served=op[3],
                        promised_return_on=today + timedelta(days=op[4])
                        if outcome == "agreed_to_return"
                        else None,
                        other_school="示例学校" if outcome == "enrolled_elsewhere" else None,
                        outcome_detail="说明" if outcome == "other" else None,
                        no_location_reason="电话联系",
                        **await visit_how(uow, case_id, person, op[3], op[5], today, now),
                    ),
                    now=now,
                    policy=s.policy,
                    tz=s.tz,
                )
            elif name == "return":
                await confirm_return(
                    uow,
                    scope,
                    actor,
                    ReturnReport(case_id, today, "seen_in_class"),
                    now=now,
                    policy=s.policy,
                    tz=s.tz,
                )
            elif name == "check":
                await record_retention_check(uow, scope, actor, case_id, op[1], now, s.policy, tz=s.tz)
            elif name == "decide":
                current = await uow.cases.get(case_id)
                assert current is not None
                wanted = _decision(current, person, op, today)
                await decide(uow, scope, actor, person, case_id, wanted, now=now, policy=s.policy, tz=s.tz)
            elif name == "ack":
                found = [e for e in await uow.escalations.of_case(case_id) if e.acknowledged_at is None]
                if not found:
                    return case_id
                await acknowledge(uow, scope, actor, person, found[0].id, now=now, policy=s.policy, tz=s.tz)
            await uow.commit()
            lab.applied[name] += 1
        except DomainError as exc:
            lab.refused[f"{name}:{type(exc).__name__}"] += 1
    return case_id


def _decision(case: Case, person: Staff, op: tuple[Any, ...], today: date) -> Decision:
    """Mostly a decision the page would offer for the case's state, with a plausible code; sometimes any."""
    _, _, pick, code_pick, due_in, note_pick = op
    offered = offered_decisions(case, person)
    name = offered[pick % len(offered)] if offered and pick < 40 else sorted(DECISIONS)[pick % len(DECISIONS)]
    codes = CODES.get(name, (None,))
    code = codes[code_pick % len(codes)] if code_pick < 8 else "Z9"
    return Decision(
        name,
        code=code,
        note="依据" if note_pick else None,
        due=today + timedelta(days=due_in) if due_in is not None else None,
    )


async def _to_check_day(lab: Lab, case_id: int) -> None:
    """Retention checks are answered on their day: move the clock there (time only moves forward)."""
    async with lab.services.uow() as uow:
        case = await uow.cases.get(case_id)
    if case is not None and case.next_step == "retention_check" and case.next_step_due_at is not None:
        day_of = case.next_step_due_at - lab.services.policy.steps.retention_answer_within
        if day_of > lab.clock.now():
            lab.clock.set(day_of)


async def visit_how(
    uow: UnitOfWork,
    case_id: int,
    person: Staff,
    notice: bool,
    follow_up_in: int | None,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """A phone call (no photo or location needed); a notice is served in person at school, with a photo."""
    how: dict[str, Any] = {"mode": "phone"}
    if follow_up_in is not None:
        how["next_follow_up_on"] = today + timedelta(days=follow_up_in)
    if notice:
        photo = Attachment(
            case_id=case_id,
            uploaded_by_id=person.id,
            created_at=now,
            sha256="0" * 64,
            media_type="image/jpeg",
            size_bytes=1,
        )
        uow.session.add(photo)
        await uow.flush()
        how.update(mode="school", attachment_ids=[photo.id])
    return how


async def _check(lab: Lab, case_id: int | None, history: list[tuple[Any, ...]]) -> None:
    if case_id is None:
        return
    async with lab.services.uow() as uow:
        violations = await silent_cases(uow, case_ids=[case_id])
    assert violations == [], f"case went silent after {history}"


@pytest.mark.timeout(1800)  # 2 000 sequences of up to 15 steps: minutes, not seconds
@settings(
    max_examples=SEQUENCES,
    deadline=None,
    database=None,
    derandomize=not FULL,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(ops=st.lists(OP, min_size=1, max_size=14))
def test_no_open_case_is_ever_left_without_an_owner_and_a_next_dated_step(
    lab: Lab, ops: list[tuple[Any, ...]]
) -> None:
    async def sequence() -> None:
        pupil_id = await _new_pupil(lab)
        case_id: int | None = None
        history: list[tuple[Any, ...]] = []
        for op in [("report", 0, False), *ops]:
            history.append(op)
            case_id = await _step(lab, op, pupil_id, case_id)
            await _check(lab, case_id, history)
        if case_id is not None:
            async with lab.services.uow() as uow:
                case = await uow.cases.get(case_id)
                assert case is not None
                lab.statuses[case.status] += 1

    lab.loop.run_until_complete(sequence())
