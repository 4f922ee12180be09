"""The principal confirms the school's monthly report from the digest, with one tap (real bot, fake
Telegram server)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from telegram import Bot
from telegram.ext import Application

from app.container import Services
from domain.reminders.digest import build_digests
from domain.reminders.planning import plan_monthly_reports
from storage.models import AuditEntry, MonthlyReportConfirmation
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.test_reminders_delivery import TZ, answer, make_sender, says, sender_bot
from tests.factories import World

__all__ = ["sender_bot"]  # the fixture, shared with the reminder delivery tests
BUTTON = "确认已报 2026-10 月报"


async def test_the_principal_confirms_the_report_from_the_digest(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
) -> None:
    principal = await bound("principal")
    services.clock.set(datetime(2026, 10, 31, 12, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    async with services.uow() as uow:
        await plan_monthly_reports(uow, policy=services.policy, now=services.clock.now(), tz=TZ)
        await uow.commit()
    services.clock.set(datetime(2026, 11, 1, 8, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await make_sender(services, sender_bot).drain() == 1
    digest = await principal.wait_for_reply(says("2026-10"))
    assert buttons(digest) == [BUTTON]
    await principal.tap(BUTTON, message_id=digest["message_id"])
    assert "已确认 2026-10 学校月报" in await answer(principal, 1)
    await principal.tap(BUTTON, message_id=digest["message_id"])  # a second tap changes nothing
    assert "无需再次确认" in await answer(principal, 2)
    async with services.uow() as uow:
        rows = (await uow.session.scalars(select(MonthlyReportConfirmation))).all()
        audits = await uow.session.scalar(
            select(func.count()).where(AuditEntry.action == "confirm", AuditEntry.entity == "monthly_report")
        )
    assert [(r.school_id, r.month, r.confirmed_by_id) for r in rows] == [
        (world.school.id, date(2026, 10, 1), world.staff["principal"].id)
    ]
    assert audits == 1
