"""Three more cases of school 1 for the ledger and monthly-report tests, on top of the known county
(tests/web/county.py, left as it is): pupils F, G, H and J, with the coordinators' decisions.

- F (class a, 东山村; 户籍地 and 现住址 on record): suspected 09-05 → verifying → dropped out 09-08;
  phone call 09-09 (working away) → persuading; home visit 09-12 with the notice → notice issued;
  reported (上报) 09-20 → escalated; ordered to comply 09-21; returned 09-25 → retention; closing
  approved 10-10 → closed (销号).
- G (class b): suspected 09-28; video call 09-29 (ill); classified I (因病因残) 09-30 → verifying.
- H (class b): suspected 10-02 → marked missing (G, police report) 10-05.
- J (class a): suspected 10-03 → cleared (核减) 10-06 with code B and proof of the transfer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, add_event, change_status, report_absence
from domain.casework.decisions import Decision, decide
from domain.casework.lifecycle import CaseStatus as S
from domain.policy import Policy
from storage.models import Student
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.web.county import TZ, County, at

REGISTERED = "测试县示范镇东山村3组"
LIVES = "测试市新区幸福路8号"


async def add_ledger_cases(uow_factory: UnitOfWorkFactory, county: County, policy: Policy) -> dict[str, int]:
    """Creates F, G, H and J (see the module docstring); returns their case ids by letter."""
    w, st = county.world, county.staff
    pupils = {"F": w.students[2], "G": w.students[6], "H": w.students[7], "J": w.students[3]}
    county.students.update(pupils)
    teacher_a = Actor(staff_id=st["teacher_a"].id, label="telegram:1")
    teacher_b = Actor(staff_id=st["teacher_b"].id, label="telegram:2")
    principal = Actor(staff_id=st["principal"].id, label="web:principal")
    everything = Scope(staff_id=None, everything=True)
    ids: dict[str, int] = {}

    async with uow_factory() as uow:
        student = await uow.session.get(Student, pupils["F"].id)
        assert student is not None
        student.registered_residence, student.current_address = REGISTERED, LIVES
        for key, since, opened, actor in (
            ("F", "09-01", at("09-05"), teacher_a),
            ("G", "09-21", at("09-28"), teacher_b),
            ("H", "09-25", at("10-02"), teacher_b),
            ("J", "09-28", at("10-03"), teacher_a),
        ):
            case, _ = await report_absence(
                uow,
                everything,
                actor,
                AbsenceReport(pupils[key].id, date.fromisoformat(f"2026-{since}"), suspected=True),
                now=opened,
                policy=policy,
                tz=TZ,
            )
            ids[key] = case.id
        await uow.commit()

    async def move(
        key: str, target: S, day: str, actor: Actor, kind: str = "status_changed", **data: Any
    ) -> None:
        async with uow_factory() as uow:
            case = await uow.cases.get(ids[key])
            assert case is not None
            if target is S.RETURNED:
                case.returned_on = date.fromisoformat(f"2026-{day}")
            await change_status(uow, case, target, actor, now=at(day), kind=kind, **data)
            await uow.commit()

    async def event(key: str, kind: str, day: str, actor: Actor, **data: Any) -> None:
        async with uow_factory() as uow:
            case = await uow.cases.get(ids[key])
            assert case is not None
            add_event(uow, case, kind, actor, at(day, 18), occurred_at=at(day, 12), **data)
            await uow.commit()

    async def decision(key: str, day: str, what: Decision) -> None:
        async with uow_factory() as uow:
            await decide(
                uow, everything, principal, st["principal"], ids[key], what, now=at(day), policy=policy, tz=TZ
            )
            await uow.commit()

    def visit(day: str, actor: Actor, outcome: str, **extra: Any) -> dict[str, Any]:
        return {
            "visited_on": f"2026-{day}",
            "visitors": [actor.staff_id],
            "met": "guardian",
            "outcome": outcome,
            "notice_served": False,
            **extra,
        }

    await move("F", S.VERIFYING, "09-06", teacher_a)
    await move("F", S.DROPPED_OUT, "09-08", teacher_a)
    await event(
        "F", "visit_logged", "09-09", teacher_a, **visit("09-09", teacher_a, "working_away", mode="phone")
    )
    await move("F", S.PERSUADING, "09-09", teacher_a)
    await event(
        "F", "visit_logged", "09-12", teacher_a, **visit("09-12", teacher_a, "refused", notice_served=True)
    )
    await move("F", S.NOTICE_ISSUED, "09-12", teacher_a, kind="notice_served")
    await move("F", S.ESCALATED, "09-20", principal, kind="reported", reported_to=["township_government"])
    await event("F", "compliance_ordered", "09-21", principal, due="2026-09-28")
    await move("F", S.RETURNED, "09-25", teacher_a, kind="return_confirmed")
    await move("F", S.RETENTION, "09-25", teacher_a)
    await move("F", S.CLOSED, "10-10", principal, kind="closing_approved", note=None)

    await event(
        "G", "visit_logged", "09-29", teacher_b, **visit("09-29", teacher_b, "ill_or_disabled", mode="video")
    )
    await decision("G", "09-30", Decision("classify", code="I", note="住院治疗，医院证明已存档"))
    await decision("H", "10-05", Decision("mark_missing", note="派出所报案回执 2026-118"))
    await decision("J", "10-06", Decision("clear", code="B", note="已转入县第二小学，学籍已转"))
    return ids
