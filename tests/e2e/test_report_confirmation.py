"""The principal confirms the school's monthly report from the digest, with one tap, on Telegram and on
WeCom (the real bot or web callback, against each channel's emulator)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from app.container import Services
from app.scheduler import ReminderScheduler
from domain.reminders.digest import build_digests
from domain.reminders.planning import plan_monthly_reports
from storage.models import AuditEntry, MonthlyReportConfirmation
from tests.e2e.conftest import PersonFactory
from tests.e2e.reminding import scheduler, tap_for_answer
from tests.e2e.test_reminders_delivery import TZ
from tests.factories import World

__all__ = ["scheduler"]  # the fixture, shared with the other reminder journeys
BUTTON = "确认已报 2026-10 月报"


async def test_the_principal_confirms_the_report_from_the_digest(
    person: PersonFactory, world: World, services: Services, scheduler: ReminderScheduler
) -> None:
    principal = await person("principal")
    services.clock.set(datetime(2026, 10, 31, 12, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    async with services.uow() as uow:
        await plan_monthly_reports(uow, policy=services.policy, now=services.clock.now(), tz=TZ)
        await uow.commit()
    services.clock.set(datetime(2026, 11, 1, 8, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await scheduler.sender.drain() == 1
    digest = await principal.expect("2026-10")
    assert digest.buttons == [BUTTON]
    assert "已确认 2026-10 学校月报" in await tap_for_answer(principal, BUTTON)
    assert "无需再次确认" in await tap_for_answer(principal, BUTTON, again=True)  # a second tap: nothing
    async with services.uow() as uow:
        rows = (await uow.session.scalars(select(MonthlyReportConfirmation))).all()
        audits = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "confirm", AuditEntry.entity == "monthly_report")
        )
    assert [(r.school_id, r.month, r.confirmed_by_id) for r in rows] == [
        (world.school.id, date(2026, 10, 1), world.staff["principal"].id)
    ]
    assert audits == 1
