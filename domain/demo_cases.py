"""The demo county's cases, made the way real use makes them: absences reported by class teachers, visits,
coordinators' decisions, returns, retention checks and the moves deadlines make, each on its own (past)
day through the same use cases the bot and the dashboard call. No status is written directly, so the
demo shows only what real use can produce, with a full timeline."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from domain.audit import Actor
from domain.casework.automatic import apply_automatic_step
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.decisions import Decision, decide
from domain.casework.returns import ReturnReport, confirm_return
from domain.casework.visits import VisitReport, record_visit
from domain.people.roles import Role
from domain.people.scope import scope_for
from domain.photos.processing import PhotoPolicy, WatermarkInfo, process_photo
from domain.policy import Policy
from domain.reminders.actions import record_retention_check
from domain.reminders.planning import plan_case_reminders
from storage.media import LocalMediaStore
from storage.models import Attachment, Case, Staff, Student
from storage.uow import UnitOfWork

NOTE = "示例数据 demo data"


@dataclass(frozen=True)
class Act:
    day: int  # days after the case was opened
    what: str  # report | visit | decide | return | check | auto
    params: dict[str, Any] = field(default_factory=dict)


def _visit(day: int, outcome: str, **params: Any) -> Act:
    return Act(day, "visit", {"outcome": outcome, **params})


def _decide(day: int, who: str, decision: str, **params: Any) -> Act:
    return Act(day, "decide", {"who": who, "decision": decision, **params})


# (opened this many days ago, what happened since). Every step is something a person (or a deadline) does.
SCENARIOS: list[tuple[int, list[Act]]] = [
    (0, [Act(0, "report")]),  # absent today
    (1, [Act(0, "report")]),
    (2, [Act(0, "report", {"absent_days": 1})]),
    (3, [Act(0, "report", {"absent_days": 6})]),  # suspected: a week unexplained
    (8, [Act(0, "report", {"absent_days": 4}), _visit(2, "unreachable", met="nobody")]),
    (9, [Act(0, "report"), Act(5, "auto")]),  # nobody visited: became suspected after 3 school days
    (6, [Act(0, "report", {"absent_days": 3}), _visit(1, "agreed_to_return", promised_in=9)]),
    (
        12,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(2, "enrolled_elsewhere", other_school="示例县第二小学"),
            _decide(5, "principal", "clear", code="C", note="示例县第二小学出具的在读证明"),
        ],
    ),
    (
        20,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(2, "unreachable", met="nobody"),
            _decide(6, "principal", "mark_missing", note="示例派出所协查 2026-001"),
        ],
    ),
    (10, [Act(0, "report", {"absent_days": 5}), _visit(2, "working_away", met="guardian")]),
    (14, [Act(0, "report", {"absent_days": 5}), _visit(2, "refused"), _visit(6, "refused")]),
    (
        12,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(1, "refused"),
            _visit(4, "refused"),
            _visit(8, "refused", notice=True),
        ],
    ),
    (
        26,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(1, "refused"),
            _visit(4, "refused"),
            _visit(8, "refused", notice=True),
            Act(16, "auto"),
            _decide(17, "principal", "escalate"),
            _decide(19, "township", "order_compliance", due_in=14, note="示例乡政府 责令限期改正通知"),
        ],
    ),
    (
        25,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(1, "refused"),
            _visit(6, "agreed_to_return", promised_in=3),
            Act(9, "return"),
        ],
    ),
    (
        50,
        [
            Act(0, "report", {"absent_days": 4}),
            _visit(1, "agreed_to_return", promised_in=2),
            Act(3, "return"),
            Act(17, "check"),
            Act(33, "check"),
            _decide(35, "principal", "approve_closing"),
        ],
    ),
    (
        7,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(1, "ill_or_disabled"),
            _decide(3, "principal", "defer", due_in=120, note="示例东岭镇人民政府（监护人书面申请）"),
        ],
    ),
    (
        15,
        [
            Act(0, "report", {"absent_days": 5}),
            _visit(1, "ill_or_disabled"),
            _decide(4, "principal", "classify", code="I", note="示例县医院诊断，需送教上门"),
        ],
    ),
]


@dataclass
class _People:
    teacher: Staff
    principal: Staff
    township: Staff
    county: Staff

    def who(self, name: str) -> Staff:
        return {"principal": self.principal, "township": self.township, "county": self.county}.get(
            name, self.teacher
        )


async def _people(uow: UnitOfWork, student: Student, teacher: Staff) -> _People:
    principal = (await uow.directory.staff_of_school(student.school_id, Role.PRINCIPAL))[0]
    school = await uow.directory.school(student.school_id)
    assert school is not None
    township = await uow.directory.area(school.area_id)
    assert township is not None and township.parent_id is not None
    officer = (await uow.directory.staff_in_area(township.id, Role.TOWNSHIP_OFFICER))[0]
    county = (await uow.directory.staff_in_area(township.parent_id, Role.COUNTY_OFFICER))[0]
    return _People(teacher, principal, officer, county)


async def _act(
    uow: UnitOfWork,
    act: Act,
    case: Case | None,
    student: Student,
    people: _People,
    *,
    at: datetime,
    policy: Policy,
    tz: ZoneInfo,
    media: LocalMediaStore | None,
) -> Case:
    p = act.params
    person = people.who(str(p.get("who", "teacher")))
    actor, scope = Actor(person.id, "demo"), await scope_for(uow, person)
    today = at.astimezone(tz).date()
    if act.what == "report":
        report = AbsenceReport(student.id, today - timedelta(days=int(p.get("absent_days", 0))), note=NOTE)
        case, _ = await report_absence(uow, scope, actor, report, now=at, policy=policy, tz=tz)
        return case
    assert case is not None
    if act.what == "visit":
        promised = today + timedelta(days=p["promised_in"]) if "promised_in" in p else None
        how = await _visit_how(uow, case, person, p, at, tz, media)
        await record_visit(
            uow,
            scope,
            actor,
            VisitReport(
                case_id=case.id,
                visited_on=today,
                met=str(p.get("met", "guardian")),
                outcome=str(p["outcome"]),
                promised_return_on=promised,
                other_school=p.get("other_school"),
                notice_served=bool(p.get("notice")),
                note=NOTE,
                **how,
            ),
            now=at,
            policy=policy,
            tz=tz,
        )
    elif act.what == "decide":
        due = today + timedelta(days=p["due_in"]) if "due_in" in p else None
        wanted = Decision(str(p["decision"]), code=p.get("code"), note=p.get("note"), due=due)
        await decide(uow, scope, actor, person, case.id, wanted, now=at, policy=policy, tz=tz)
    elif act.what == "return":
        await confirm_return(
            uow, scope, actor, ReturnReport(case.id, today, "seen_in_class"), now=at, policy=policy, tz=tz
        )
    elif act.what == "check":
        await record_retention_check(uow, scope, actor, case.id, True, at, policy, tz=tz)
    elif act.what == "auto":
        await apply_automatic_step(uow, case, now=at, policy=policy, tz=tz)
    return case


def _demo_image() -> bytes:
    """A plain generated picture standing for a photo taken on a visit (clearly not a real one)."""
    buffer = io.BytesIO()
    image = Image.new("RGB", (800, 600), (70, 130, 180))
    image = Image.composite(
        image, Image.new("RGB", image.size, (240, 240, 240)), Image.linear_gradient("L").resize(image.size)
    )
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


async def _photo(
    uow: UnitOfWork, case: Case, person: Staff, at: datetime, tz: ZoneInfo, media: LocalMediaStore | None
) -> int:
    """One evidence photo through the product's photo pipeline, uploaded by the visitor."""
    photo = process_photo(
        _demo_image(), visit=WatermarkInfo(at, "示例村", case.number, person.name), policy=PhotoPolicy(tz=tz)
    )
    if media is not None:
        await media.put(photo.evidence_bytes)
        await media.put(photo.thumbnail_bytes)
    row = Attachment(case_id=case.id, uploaded_by_id=person.id, created_at=at, **photo.attachment_fields())
    uow.session.add(row)
    await uow.flush()
    return row.id


async def _visit_how(
    uow: UnitOfWork,
    case: Case,
    person: Staff,
    params: dict[str, Any],
    at: datetime,
    tz: ZoneInfo,
    media: LocalMediaStore | None,
) -> dict[str, Any]:
    """By phone, except a notice, which is served in person at home, with a photo and no location."""
    if not params.get("notice"):
        return {"mode": "phone"}
    return {
        "mode": "home",
        "no_location_reason": NOTE,
        "attachment_ids": [await _photo(uow, case, person, at, tz, media)],
    }


async def make_demo_cases(
    uow: UnitOfWork,
    pupils: list[tuple[Student, Staff]],
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    media: LocalMediaStore | None = None,
) -> dict[str, int]:
    """One case per scenario for the given pupils (and their class teachers); returns cases by status."""
    statuses: dict[str, int] = {}
    for (ago, acts), (student, teacher) in zip(SCENARIOS, pupils, strict=True):
        people = await _people(uow, student, teacher)
        opened = _morning(now - timedelta(days=ago), tz)
        case: Case | None = None
        for act in acts:
            at = min(opened + timedelta(days=act.day), now)
            case = await _act(uow, act, case, student, people, at=at, policy=policy, tz=tz, media=media)
        assert case is not None
        await apply_automatic_step(uow, case, now=now, policy=policy, tz=tz)  # deadlines passed since
        await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
        statuses[case.status] = statuses.get(case.status, 0) + 1
    return statuses


def _morning(moment: datetime, tz: ZoneInfo) -> datetime:
    """Demo work happens in school hours: 09:00 local on that day."""
    day: date = moment.astimezone(tz).date()
    return datetime.combine(day, datetime.min.time().replace(hour=9), tz)
