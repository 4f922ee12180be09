"""Reminder planning on SQLite and PostgreSQL: rules, escalation chains, policy reload, digests,
snoozes, retention checks and the reminders log — all with a clock moved by hand."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, add_event, change_status, reclassify, report_absence
from domain.casework.decisions import Decision, decide
from domain.casework.lifecycle import CaseStatus
from domain.clock import Clock, FixedClock
from domain.errors import InvalidInput, NotInScope
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.reminders.actions import SnoozeRefused, record_retention_check, snooze_reminder
from domain.reminders.digest import build_digests, digest_members, digest_message
from domain.reminders.planning import plan_monthly_reports, reminder_log, replan_all, replan_changed
from storage import outbox
from storage.models import Case, Reminder, SchoolClass
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = ZoneInfo("Asia/Shanghai")
S = CaseStatus


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


async def report(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: Clock,
    policy: Policy,
    *,
    who: str = "teacher_a",
    pupil: int = 0,
    in_class: SchoolClass | None = None,
    **kw: object,
) -> Case:
    """An absence reported today by `who` for the n-th pupil of class A (or `in_class`)."""
    pupils = [s for s in world.students if s.class_id == (in_class or world.class_a).id]
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        kw.setdefault("absent_since", clock.now().astimezone(TZ).date())
        case, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, f"test:{who}"),
            AbsenceReport(student_id=pupils[pupil].id, **kw),  # type: ignore[arg-type]
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    return case


async def rows(uow_factory: UnitOfWorkFactory, case_id: int | None = None) -> list[Reminder]:
    async with uow_factory() as uow:
        found = await outbox.log(uow.session, scope_everything(), case_id=case_id, limit=10_000)
    return sorted((r for r, _, _ in found), key=lambda r: r.id)


def scope_everything():  # type: ignore[no-untyped-def]
    from storage.scope import Scope

    return Scope(staff_id=None, everything=True)


def pending(found: list[Reminder], repeats: bool = False) -> dict[tuple[str, int], Reminder]:
    """Pending rows by (kind, recipient); "still overdue" repeats only when asked for."""
    return {
        (r.kind, r.recipient_id): r
        for r in found
        if r.state == "pending" and (repeats or "#r" not in r.dedupe_key)
    }


async def move(
    uow_factory: UnitOfWorkFactory,
    case_id: int,
    clock: FixedClock,
    policy: Policy,
    *targets: CaseStatus,
    kind: str = "status_changed",
    event: str | None = None,
    **case_fields: object,
) -> None:
    """Moves a case as the use cases of other issues do (they replan through change_status)."""
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
        assert case is not None
        if event:
            add_event(uow, case, event, Actor.system("test"), clock.now())
        for name, value in case_fields.items():
            setattr(case, name, value)
        for target in targets:
            await change_status(
                uow, case, target, Actor.system("test"), now=clock.now(), kind=kind, policy=policy, tz=TZ
            )
        await uow.commit()


async def test_an_absence_plans_the_visit_reminder_and_its_escalation_chain(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    wanted = pending(await rows(uow_factory, case.id))
    st = world.staff
    assert set(wanted) == {
        ("first_visit", st["teacher_a"].id),
        ("overdue", st["principal"].id),
        ("overdue", st["township"].id),
        ("overdue", st["county"].id),
    }
    teacher = wanted["first_visit", st["teacher_a"].id]
    assert teacher.due_at == clock.now() + timedelta(days=3) and teacher.channel == "direct"
    # Due Friday; unacknowledged it climbs every 2 working days: Tuesday, Thursday, Monday.
    assert wanted["overdue", st["principal"].id].due_at == clock.now() + timedelta(days=7)
    assert wanted["overdue", st["township"].id].due_at == clock.now() + timedelta(days=9)
    assert wanted["overdue", st["county"].id].due_at == clock.now() + timedelta(days=13)
    assert wanted["overdue", st["township"].id].channel == "digest"
    assert pending(await rows(uow_factory, case.id), repeats=True).keys() == wanted.keys()


async def test_a_report_late_in_the_evening_is_delivered_after_quiet_hours(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    clock.set(datetime(2026, 10, 13, 23, 0, tzinfo=TZ))
    case = await report(uow_factory, world, clock, policy)
    teacher = pending(await rows(uow_factory, case.id))["first_visit", world.staff["teacher_a"].id]
    assert teacher.due_at == datetime(2026, 10, 16, 23, 0, tzinfo=TZ)
    assert teacher.send_after == datetime(2026, 10, 17, 7, 30, tzinfo=TZ)


async def test_a_logged_visit_cancels_the_pending_visit_reminders(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    clock.advance(timedelta(days=1))
    await move(uow_factory, case.id, clock, policy, S.VERIFYING, event="visit_logged")
    found = await rows(uow_factory, case.id)
    visit_rows = [r for r in found if (r.payload or {}).get("step") == "first_visit"]
    assert {r.state for r in visit_rows} == {"cancelled"}  # kept in the log, never deleted
    assert len(visit_rows) == 5  # the reminder, its repeat and three escalation levels
    # Verified by a visit, the case now waits for the principal's verification outcome.
    assert ("verify", world.staff["principal"].id) in pending(found)


async def test_fifteen_day_rule_reminds_principal_and_township(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    clock.set(datetime(2026, 9, 3, 9, 0, tzinfo=TZ))  # third day of term: roll call finds a pupil missing
    case = await report(uow_factory, world, clock, policy, suspected=True, absent_since=date(2026, 9, 1))
    wanted = pending(await rows(uow_factory, case.id))
    deadline = datetime(2026, 9, 16, 0, 0, tzinfo=TZ)  # term start + 15 days (004_4b017d4e2bf19d2a.txt)
    assert wanted["verify", world.staff["principal"].id].due_at == deadline
    # Not verified by then, the township officer is told two working days later (Wednesday → Friday).
    assert wanted["overdue", world.staff["township"].id].due_at == datetime(2026, 9, 18, 0, 0, tzinfo=TZ)
    await move(uow_factory, case.id, clock, policy, S.VERIFYING, S.CLEARED, event="visit_logged")
    assert not pending(await rows(uow_factory, case.id))


async def test_notice_served_escalates_to_township_and_county_after_seven_days(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    await move(uow_factory, case.id, clock, policy, S.VERIFYING, S.DROPPED_OUT, event="visit_logged")
    await move(
        uow_factory,
        case.id,
        clock,
        policy,
        S.NOTICE_ISSUED,
        kind="notice_served",
        return_due_at=clock.now() + timedelta(days=7),
    )
    wanted = pending(await rows(uow_factory, case.id), repeats=True)
    st = world.staff
    # 7-day rule: the teacher and the village cadre check the return; officers hear of it only if the
    # case escalates.
    assert set(wanted) == {("return_check", st["teacher_a"].id), ("return_check", st["cadre_a"].id)}
    assert {r.due_at for r in wanted.values()} == {clock.now() + timedelta(days=7)}
    await move(uow_factory, case.id, clock, policy, S.RETURNED, S.RETENTION, returned_on=date(2026, 10, 14))
    after = pending(await rows(uow_factory, case.id))
    assert after.keys() == {
        ("retention_check", st["teacher_a"].id),
        ("overdue", st["principal"].id),
        ("overdue", st["township"].id),
        ("overdue", st["county"].id),
    }
    assert after["overdue", st["principal"].id].payload["step"] == "retention_check"  # if left unanswered


async def test_retention_checks_then_closure(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    back = clock.now().astimezone(TZ).date()
    await move(uow_factory, case.id, clock, policy, S.RETURNED, S.RETENTION, returned_on=back)
    checks = sorted(pending(await rows(uow_factory, case.id)).values(), key=lambda r: r.due_at)
    # One check at a time: the first, 14 days after the return, at 09:00 (the second once it is recorded).
    assert [r.due_at for r in await _all_checks(uow_factory, case.id)] == [
        datetime.combine(back + timedelta(days=14), datetime.min.time().replace(hour=9), TZ)
    ]
    assert checks
    teacher = world.staff["teacher_a"]
    actor = Actor(teacher.id, "test")
    async with uow_factory() as uow:
        scope = await scope_for(uow, teacher)
        with pytest.raises(InvalidInput, match="retention_check_not_due"):
            await record_retention_check(uow, scope, actor, case.id, True, clock.now(), policy, tz=TZ)
    clock.advance(timedelta(days=14))
    async with uow_factory() as uow:
        await record_retention_check(uow, scope, actor, case.id, True, clock.now(), policy, tz=TZ, check=1)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(InvalidInput, match="retention_already_recorded"):
            await record_retention_check(
                uow, scope, actor, case.id, True, clock.now(), policy, tz=TZ, check=1
            )
    assert [
        r.payload["check"]
        for (k, _), r in pending(await rows(uow_factory, case.id)).items()
        if k == "retention_check"
    ] == [2]
    clock.advance(timedelta(days=16))
    async with uow_factory() as uow:
        await record_retention_check(uow, scope, actor, case.id, True, clock.now(), policy, tz=TZ)
        await uow.commit()
        proposed = await uow.cases.get(case.id)
        assert proposed is not None and proposed.status == "retention"  # a teacher's tap never closes
    waiting = pending(await rows(uow_factory, case.id))
    assert ("approve_closing", world.staff["principal"].id) in waiting
    assert {k for k, _ in waiting} == {"approve_closing", "overdue"}  # climbs if nobody approves
    principal = world.staff["principal"]
    async with uow_factory() as uow:
        await decide(
            uow,
            await scope_for(uow, principal),
            Actor(principal.id, "test"),
            principal,
            case.id,
            Decision("approve_closing"),
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
        closed = await uow.cases.get(case.id)
        assert closed is not None and closed.status == "closed"  # 销号 approved
    assert not pending(await rows(uow_factory, case.id), repeats=True)


async def _all_checks(uow_factory: UnitOfWorkFactory, case_id: int) -> list[Reminder]:
    return sorted(
        (
            r
            for r in await rows(uow_factory, case_id)
            if r.kind == "retention_check" and "#r" not in r.dedupe_key
        ),
        key=lambda r: r.due_at,
    )


async def test_a_failed_retention_check_is_a_relapse_with_a_new_first_visit(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    await move(
        uow_factory,
        case.id,
        clock,
        policy,
        S.RETURNED,
        S.RETENTION,
        returned_on=clock.now().astimezone(TZ).date(),
    )
    clock.advance(timedelta(days=15))
    teacher = world.staff["teacher_a"]
    async with uow_factory() as uow:
        await record_retention_check(
            uow,
            await scope_for(uow, teacher),
            Actor(teacher.id, "test"),
            case.id,
            False,
            clock.now(),
            policy,
            tz=TZ,
        )
        await uow.commit()
    wanted = pending(await rows(uow_factory, case.id))
    assert wanted["first_visit", teacher.id].due_at == clock.now() + timedelta(days=3)
    assert not any(k == "retention_check" for k, _ in wanted)


async def test_changes_made_without_planning_are_caught_by_the_periodic_replan(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    clock.set(datetime(2026, 9, 3, 9, 0, tzinfo=TZ))
    case = await report(uow_factory, world, clock, policy, suspected=True, absent_since=date(2026, 9, 1))
    clock.advance(timedelta(hours=1))
    async with uow_factory() as uow:  # a change made without planning (e.g. by an older tool)
        found = await uow.cases.get(case.id)
        assert found is not None
        await reclassify(uow, found, "verification_2019", "B", Actor.system("test"), now=clock.now())
        await change_status(uow, found, S.CLEARED, Actor.system("test"), now=clock.now())
        await uow.commit()
    assert any(k == "verify" for k, _ in pending(await rows(uow_factory, case.id)))
    await replan_changed(uow_factory, policy, clock.now(), TZ, since=clock.now() - timedelta(minutes=1))
    assert not pending(await rows(uow_factory, case.id), repeats=True)


async def test_policy_reload_moves_pending_rows_and_never_touches_sent_ones(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    before = pending(await rows(uow_factory, case.id))
    teacher_row = before["first_visit", world.staff["teacher_a"].id]
    async with uow_factory() as uow:  # the teacher's reminder already went out
        await outbox.change(
            uow.session, teacher_row.id, when_state="pending", state="sent", sent_at=clock.now()
        )
        await uow.commit()
    slower = dataclasses.replace(policy, first_visit_due=timedelta(days=5))
    result = await replan_all(uow_factory, slower, clock.now(), TZ)
    after = {r.id: r for r in await rows(uow_factory, case.id)}
    assert len(after) == 5 and result.moved == 4  # nothing new for the case: the same deadlines, moved
    assert after[teacher_row.id].state == "sent" and after[teacher_row.id].due_at == teacher_row.due_at
    principal_row = before["overdue", world.staff["principal"].id]
    assert after[principal_row.id].due_at > principal_row.due_at


async def test_snooze_twice_then_refused(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    teacher = world.staff["teacher_a"]
    row = pending(await rows(uow_factory, case.id))["first_visit", teacher.id]
    actor = Actor(teacher.id, "test")
    for n in (1, 2):
        async with uow_factory() as uow:
            await outbox.change(uow.session, row.id, when_state="pending", state="sent", sent_at=clock.now())
            again = await snooze_reminder(uow, actor, row.id, now=clock.now(), policy=policy, tz=TZ)
            await uow.commit()
        assert again.snoozes == n and again.due_at == clock.now() + timedelta(days=1)
        async with uow_factory() as uow:
            with pytest.raises(SnoozeRefused, match="already"):  # a double tap changes nothing
                await snooze_reminder(uow, actor, row.id, now=clock.now(), policy=policy, tz=TZ)
        row = again
        clock.advance(timedelta(days=1))
    async with uow_factory() as uow:
        await outbox.change(uow.session, row.id, when_state="pending", state="sent", sent_at=clock.now())
        with pytest.raises(SnoozeRefused, match="limit"):
            await snooze_reminder(uow, actor, row.id, now=clock.now(), policy=policy, tz=TZ)
        events = [e for e in await uow.cases.events(case.id) if e.kind == "reminder_snoozed"]
        assert [e.data["snoozes"] for e in events] == [1, 2]  # recorded in the timeline
        assert len([a for a in await uow.audit.entries("snooze")]) == 2


async def test_someone_else_cannot_snooze_a_teachers_reminder(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    row = pending(await rows(uow_factory, case.id))["first_visit", world.staff["teacher_a"].id]
    async with uow_factory() as uow:
        with pytest.raises(NotInScope):
            await snooze_reminder(
                uow, Actor(world.staff["teacher_b"].id, "test"), row.id, now=clock.now(), policy=policy, tz=TZ
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert [a.entity_id for a in await uow.audit.entries("denied")] == [str(row.id)]


async def test_one_digest_per_coordinator_per_day_grouped_by_school(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    cases = [await report(uow_factory, world, clock, policy, pupil=n) for n in range(3)]
    clock.set(datetime(2026, 10, 23, 7, 0, tzinfo=TZ))  # 10 days on: principal and township items are due
    assert await build_digests(uow_factory, now=clock.now(), policy=policy, tz=TZ) == 0  # before 08:00
    clock.set(datetime(2026, 10, 23, 8, 0, tzinfo=TZ))
    assert await build_digests(uow_factory, now=clock.now(), policy=policy, tz=TZ) == 2
    assert await build_digests(uow_factory, now=clock.now(), policy=policy, tz=TZ) == 0  # once a day
    digests = [r for r in await rows(uow_factory) if r.kind == "digest"]
    assert sorted(d.recipient_id for d in digests) == sorted(
        [world.staff["principal"].id, world.staff["township"].id]
    )
    async with uow_factory() as uow:
        digest = next(d for d in digests if d.recipient_id == world.staff["principal"].id)
        members = await digest_members(uow, digest, policy, TZ, clock.now())
        # a digest's members are case reminders, each with a case_id
        assert sorted(cast(int, m.case_id) for m in members) == sorted(c.id for c in cases)
        message = await digest_message(uow, digest, members, TZ, clock.now())
    keys = [m.key for m in message.lines]
    assert keys == ["digest.title", "digest.school", "digest.item", "digest.item", "digest.item"]
    assert [m.params["n"] for m in message.lines[2:]] == [1, 2, 3]
    # Each escalation can be acknowledged from the digest ("我来跟进 n"), once raised.
    assert message.buttons == []  # raised (and given buttons) when the digest is prepared for sending
    assert message.lines[1].params["school"] == world.school.name
    pupil_names = {s.name for s in world.students}
    assert not any(name in str(m.params) for m in message.lines for name in pupil_names)  # masked
    clock.advance(timedelta(days=1))
    assert await build_digests(uow_factory, now=clock.now(), policy=policy, tz=TZ) == 0  # nothing new due


async def test_monthly_report_reminders_for_principals(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    async with uow_factory() as uow:
        result = await plan_monthly_reports(uow, policy=policy, now=clock.now(), tz=TZ)
        await uow.commit()
    assert result.inserted == 1  # October's report, due on 1 November (September's was due already)
    found = [r for r in await rows(uow_factory) if r.kind == "monthly_report"]
    assert {r.due_at for r in found} == {datetime(2026, 11, 1, 8, 0, tzinfo=TZ)}
    assert {r.recipient_id for r in found} == {world.staff["principal"].id}
    async with uow_factory() as uow:
        assert (await plan_monthly_reports(uow, policy=policy, now=clock.now(), tz=TZ)).inserted == 0


async def test_reminder_log_is_scoped(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    case = await report(uow_factory, world, clock, policy)
    async with uow_factory() as uow:
        principal = await scope_for(uow, world.staff["principal"])
        other_teacher = await scope_for(uow, world.staff["teacher_b"])
        assert len(await reminder_log(uow, principal, case_id=case.id)) == 5
        assert await reminder_log(uow, other_teacher) == []
        entries = await reminder_log(uow, principal, states=["pending"], kinds=["first_visit"])
        assert {e.recipient.id for e in entries} == {world.staff["teacher_a"].id}


def test_the_standalone_scheduler_explains_that_it_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.settings import get_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["scheduler"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN" in result.output and "notoneless run" in result.output
