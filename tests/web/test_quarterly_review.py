"""一季度一复核 and the principals' confirmation of the monthly report, on the known county: the workbook's
figures against counts taken straight from the database, the sign-off block, who may do what."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from domain.casework.lifecycle import DROPOUT_LEDGER, SUSPECTED_LEDGER
from domain.clock import FixedClock
from domain.policy import Policy
from storage.models import AuditEntry, Case, CaseEvent, MonthlyReportConfirmation, School, Student
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import TZ, County, at
from tests.web.ledger_cases import add_ledger_cases

LISTED = sorted(str(s) for s in SUSPECTED_LEDGER | DROPOUT_LEDGER)
COLUMNS = (
    "新增疑似辍学(人)",
    "新增辍学(人)",
    "复学(人)",
    "核减(人)",
    "销号(人)",
    "期末在册超30天(人)",
    "劝返(家访)次数",
    "已确认月报(份)",
    "应报月报(份)",
)


async def _expected(
    uow_factory: UnitOfWorkFactory, school_id: int, first: date, end: date, now: datetime
) -> tuple[int, ...]:
    """The figures of one school, counted with SQL over case_events (not the builder's replay)."""
    start, stop = (datetime.combine(d, time.min, TZ) for d in (first, end))
    async with uow_factory() as uow:
        s = uow.session
        ours = (
            select(Case.id).join(Student, Student.id == Case.student_id).where(Student.school_id == school_id)
        )
        in_period = (
            CaseEvent.case_id.in_(ours),
            CaseEvent.occurred_at >= start,
            CaseEvent.occurred_at < stop,
        )

        async def distinct_cases(*where: Any) -> int:
            q = select(func.count(func.distinct(CaseEvent.case_id))).where(*in_period, *where)
            return int(await s.scalar(q) or 0)

        def outside(ledger: list[str]) -> Any:
            return CaseEvent.from_status.is_(None) | CaseEvent.from_status.not_in(ledger)

        dropout = sorted(str(s) for s in DROPOUT_LEDGER)
        new_suspected = await distinct_cases(CaseEvent.to_status.in_(LISTED), outside(LISTED))
        new_dropouts = await distinct_cases(CaseEvent.to_status.in_(dropout), outside(dropout))
        returned = await distinct_cases(CaseEvent.to_status == "returned", CaseEvent.from_status.in_(LISTED))
        cleared = await distinct_cases(CaseEvent.to_status == "cleared", CaseEvent.from_status.in_(LISTED))
        earlier = select(CaseEvent.case_id).where(CaseEvent.to_status.in_(LISTED))
        closed = await distinct_cases(CaseEvent.to_status == "closed", CaseEvent.case_id.in_(earlier))
        visits = int(
            await s.scalar(select(func.count()).where(*in_period, CaseEvent.kind == "visit_logged")) or 0
        )
        # Open over 30 days: on a ledger at the end, its latest entry onto the ledgers before the end - 30 d.
        as_of = min(stop, now)
        rows = (
            await s.execute(
                select(CaseEvent.case_id, CaseEvent.from_status, CaseEvent.to_status, CaseEvent.occurred_at)
                .where(
                    CaseEvent.case_id.in_(ours),
                    CaseEvent.occurred_at < stop,
                    CaseEvent.to_status.is_not(None),
                )
                .order_by(CaseEvent.occurred_at, CaseEvent.id)
            )
        ).all()
        last = {r.case_id: r.to_status for r in rows}
        entries = {
            r.case_id: r.occurred_at for r in rows if r.to_status in LISTED and r.from_status not in LISTED
        }
        open_long = sum(
            1 for c, st in last.items() if st in LISTED and as_of - entries[c] > timedelta(days=30)
        )
        confirmed = int(
            await s.scalar(
                select(func.count()).where(
                    MonthlyReportConfirmation.school_id == school_id,
                    MonthlyReportConfirmation.month >= first,
                    MonthlyReportConfirmation.month < end,
                )
            )
            or 0
        )
    index = first.year * 12 + first.month  # the month after `first`, counted from year 0
    after = [date((index + m) // 12, (index + m) % 12 + 1, 1) for m in range(3)]
    months_due = sum(1 for day in after if day <= now.astimezone(TZ).date())
    return (new_suspected, new_dropouts, returned, cleared, closed, open_long, visits, confirmed, months_due)


async def _confirm(uow_factory: UnitOfWorkFactory, county: County, school_id: int, month: date) -> None:
    async with uow_factory() as uow:
        uow.session.add(
            MonthlyReportConfirmation(
                school_id=school_id,
                month=month,
                confirmed_by_id=county.staff["principal"].id,
                confirmed_at=at("10-02"),
            )
        )
        await uow.commit()


# Q3 has ended; Q4 is read on 12-20, its "end" figures as they stand then (C, G, H and E on a ledger for
# over 30 days by then).
@pytest.mark.parametrize(
    ("quarter", "first", "today"),
    [("2026Q3", date(2026, 7, 1), "10-13"), ("2026Q4", date(2026, 10, 1), "12-20")],
)
async def test_the_quarterly_workbook_matches_the_database(
    as_user: AsUser,
    county: County,
    uow_factory: UnitOfWorkFactory,
    policy: Policy,
    clock: FixedClock,
    quarter: str,
    first: date,
    today: str,
) -> None:
    await add_ledger_cases(uow_factory, county, policy)
    clock.set(at(today, 9))
    school1 = county.world.school.id
    await _confirm(uow_factory, county, school1, date(2026, 8, 1))
    await _confirm(uow_factory, county, school1, date(2026, 9, 1))
    client = await as_user("county")
    reply = await client.get(f"/exports/quarterly.xlsx?quarter={quarter}")
    assert reply.status_code == 200, reply.text
    book = load_workbook(io.BytesIO(reply.content))
    sheet = book["季度复核"]
    lines = list(sheet.iter_rows(values_only=True))
    header = lines[0]
    assert header[:3] == ("序号", "乡镇", "学校") and header[3:] == COLUMNS
    rows = {line[2]: line for line in lines[1:] if line[2]}
    async with uow_factory() as uow:
        schools = (await uow.session.scalars(select(School).order_by(School.code))).all()
    end = date(first.year + (first.month + 2) // 12, (first.month + 2) % 12 + 1, 1)
    totals = [0] * len(COLUMNS)
    for school in schools:
        expected = await _expected(uow_factory, school.id, first, end, clock.now())
        assert rows[school.name][3:] == expected, school.name
        totals = [a + b for a, b in zip(totals, expected, strict=True)]
    assert rows["合计"][3:] == tuple(totals)
    # The figures are not all zero: the comparison means something.
    assert sum(totals[:7]) > 0
    if quarter == "2026Q3":
        # September of school 1 as the monthly report counts it (test_monthly_report), plus nothing earlier.
        assert rows["示范镇中心小学"][3:8] == (4, 2, 1, 0, 0) and rows["示范镇中心小学"][10:] == (2, 3)
        assert rows["北岭中学"][10:] == (0, 3)
    else:
        assert rows["示范镇中心小学"][11] == 2  # October and November have ended, December not
        assert rows["示范镇中心小学"][8] == 3 and rows["北岭中学"][8] == 1  # C, G, H; E
    # The sign-off block under the totals: the county signs and stamps.
    blank = lines.index((None,) * len(header))
    signed = {line[0]: line[1] for line in lines[blank + 1 : blank + 6]}
    assert signed == {
        "复核单位（盖章）": "测试县",
        "复核期间": quarter,
        "填报人（签字）": None,
        "审核人（签字）": None,
        "填报日期": datetime.combine(clock.now().astimezone(TZ).date(), time.min),
    }
    assert sheet[f"A{blank + 8}"].value == "（单位盖章）"
    missing = [line for line in book["未确认月报"].iter_rows(min_row=2, values_only=True)]
    if quarter == "2026Q3":
        assert ("示范镇", "示范镇中心小学", "2026-07") in missing and (
            "北岭镇",
            "北岭中学",
            "2026-09",
        ) in missing
        assert len(missing) == 4
    # No pupil appears in the review.
    text = " ".join(str(c) for ws in book.worksheets for r in ws.iter_rows(values_only=True) for c in r)
    assert not any(s.name in text for s in county.students.values())
    async with uow_factory() as uow:
        logged = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "export", AuditEntry.entity == "quarterly_review")
        )
    assert logged == 1


@pytest.mark.parametrize("user", ["principal", "township"])
async def test_only_the_county_downloads_the_review(
    as_user: AsUser, uow_factory: UnitOfWorkFactory, user: str
) -> None:
    client = await as_user(user)
    page = await client.get("/exports")
    assert "quarterly-form" not in page.text
    reply = await client.get("/exports/quarterly.xlsx?quarter=2026Q3")
    assert reply.status_code == 403
    async with uow_factory() as uow:
        denied = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "denied", AuditEntry.entity == "quarterly_review")
        )
    assert denied == 1


@pytest.mark.parametrize("quarter", ["2026Q5", "Q3", "1999Q1", "2026Q3x"])
async def test_a_bad_quarter_is_refused(as_user: AsUser, quarter: str) -> None:
    client = await as_user("county")
    assert (await client.get(f"/exports/quarterly.xlsx?quarter={quarter}")).status_code == 400


async def _post_confirm(client: Any, month: str) -> Any:
    page = await client.get("/exports")
    return await client.post(
        "/exports/monthly/confirm", data={"month": month, "csrf_token": csrf_of(page.text)}
    )


async def test_the_principal_confirms_last_months_report(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    page = await client.get("/exports")
    assert 'id="confirm-report"' in page.text and "2026-09" in page.text
    reply = await _post_confirm(client, "2026-09")
    assert reply.status_code == 303
    page = await client.get(reply.headers["location"])
    assert 'id="report-confirmed"' in page.text and "陈校长" in page.text
    again = await _post_confirm(client, "2026-09")  # a second click changes nothing
    assert again.status_code == 303
    async with uow_factory() as uow:
        rows = (await uow.session.scalars(select(MonthlyReportConfirmation))).all()
        audits = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "confirm", AuditEntry.entity == "monthly_report")
        )
    assert [(r.school_id, r.month, r.confirmed_by_id) for r in rows] == [
        (county.world.school.id, date(2026, 9, 1), county.staff["principal"].id)
    ]
    assert audits == 1


async def test_a_month_not_over_or_a_bad_month_is_refused(
    as_user: AsUser, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("principal")
    reply = await _post_confirm(client, "2026-10")
    assert reply.status_code == 422 and "2026-10 尚未结束" in reply.text
    assert (await _post_confirm(client, "2026-1x")).status_code == 400
    assert (await _post_confirm(client, "")).status_code == 400
    async with uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(MonthlyReportConfirmation)) == 0


async def test_an_officer_cannot_confirm_for_a_school(
    as_user: AsUser, uow_factory: UnitOfWorkFactory
) -> None:
    client = await as_user("county")
    assert 'id="confirm-report"' not in (await client.get("/exports")).text
    assert (await _post_confirm(client, "2026-09")).status_code == 403
    async with uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(MonthlyReportConfirmation)) == 0
        denied = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "denied", AuditEntry.entity == "monthly_report")
        )
    assert denied == 1


async def test_the_overview_lists_schools_whose_report_is_missing(
    as_user: AsUser, county: County, clock: FixedClock
) -> None:
    principal = await as_user("principal")
    assert (await _post_confirm(principal, "2026-09")).status_code == 303
    assert "missing-reports" not in (await principal.get("/dashboard")).text  # a principal: not listed
    county_officer = await as_user("county")
    section = (
        (await county_officer.get("/dashboard")).text.split('id="missing-reports"')[1].split("</section>")[0]
    )
    assert "北岭中学" in section and "示范镇中心小学" not in section
    township = await as_user("township")
    section = (await township.get("/dashboard")).text.split('id="missing-reports"')[1].split("</section>")[0]
    assert "北岭中学" not in section and "所有学校均已确认" in section  # only its own schools
    clock.set(at("11-05", 9))  # up to the policy day (the 5th) October's reports are not yet missing
    county_officer = await as_user("county")
    section = (
        (await county_officer.get("/dashboard")).text.split('id="missing-reports"')[1].split("</section>")[0]
    )
    assert "2026-11-05" in section and "北岭中学" not in section
