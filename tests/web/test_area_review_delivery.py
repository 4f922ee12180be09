"""一学期一调研 delivered to city officers when a term ends, 一学年一评估 to province officers when a school
year ends: who gets it, once, and when (the scheduler's job, with the clock moved)."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from telegram import Bot

from app.container import Services
from app.scheduler import ReminderScheduler
from bot.messenger import Messengers
from domain.clock import FixedClock
from domain.policy import Policy
from domain.reports.review_delivery import TERM, YEAR, deliver_reviews
from domain.reports.review_periods import term_review_due, year_review_due
from storage.models import ChannelAccount
from storage.uow import UnitOfWorkFactory
from tests.web.county import TZ, County, at
from tests.web.province import Province, build_province
from tests.web.test_monthly_report import FakeBot

CHATS = {"county": 201, "city": 202, "province": 203}


@pytest.fixture
async def province(uow_factory: UnitOfWorkFactory, policy: Policy, county: County) -> Province:
    """The province with its county, city and province officers bound to Telegram."""
    built = await build_province(uow_factory, policy, county)
    people = {"county": county.staff["county"], **built.staff}
    async with uow_factory() as uow:
        for key, chat in CHATS.items():
            uow.session.add(
                ChannelAccount(
                    staff_id=people[key].id,
                    channel="telegram",
                    account=str(chat),
                    conversation=str(chat),
                    bound_at=at("09-01"),
                )
            )
        await uow.commit()
    return built


def beijing(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=TZ)


async def test_the_city_officer_gets_the_term_review_once_when_the_term_ends(
    services: Services, province: Province, clock: FixedClock
) -> None:
    bot = FakeBot()
    scheduler = ReminderScheduler(services, Bot("1:demo"))
    scheduler.messenger = Messengers({"telegram": bot})  # reports and reviews go through the Messenger port
    assert await scheduler.leadership.campaign()
    clock.set(beijing("2027-02-21T10:00"))  # the autumn term's last day: nothing yet
    await scheduler.deliver_term_and_year()
    assert not bot.documents
    clock.set(beijing("2027-02-22T08:00"))  # the spring term starts: the autumn term has ended
    assert await scheduler.leadership.campaign()
    await scheduler.deliver_term_and_year()
    [doc] = bot.documents  # the city officer only: no county or province officer
    assert doc["chat_id"] == CHATS["city"]
    assert doc["filename"] == "地市一学期一调研_测试市_2026-2027 autumn.xlsx"
    assert doc["caption"].startswith("测试市 2026-2027 autumn 学期调研：3 所学校")
    book = load_workbook(io.BytesIO(doc["document"]))
    schools = {r[3] for r in book["学校明细"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert schools == {"示范镇中心小学", "北岭中学", "邻县小学"}
    clock.set(beijing("2027-02-23T09:00"))  # the next day's run, or a new leader catching up
    assert await scheduler.leadership.campaign()
    await scheduler.deliver_term_and_year()
    assert len(bot.documents) == 1


async def test_the_province_officer_gets_the_year_review_once(
    services: Services, province: Province, clock: FixedClock
) -> None:
    clock.set(beijing("2027-09-01T09:00"))
    period = year_review_due(clock.now(), services.policy, TZ)
    assert period is not None and period.label == "2026-2027"
    bot = FakeBot(broken={CHATS["province"]})
    failed = await deliver_reviews(services, bot, YEAR, period)
    assert failed.failed and not failed.sent  # retried by the next call
    bot.broken.clear()
    sent = await deliver_reviews(services, bot, YEAR, period)
    [doc] = bot.documents
    assert sent.sent == failed.failed and doc["chat_id"] == CHATS["province"]
    assert doc["filename"] == "省级一学年一评估_测试省_2026-2027.xlsx"
    rows = list(load_workbook(io.BytesIO(doc["document"]))["学年评估汇总"].iter_rows(values_only=True))
    assert {(r[1], r[2]) for r in rows[1:] if r[2] == "小计"} == {("测试市", "小计"), ("另一市", "小计")}
    again = await deliver_reviews(services, bot, YEAR, period)
    assert again.already_sent == sent.sent and not again.sent and len(bot.documents) == 1
    # The term review of the same moment goes to the city officer, not to the province's.
    term = term_review_due(clock.now(), services.policy, TZ)
    assert term is not None and term.label == "2026-2027 spring"
    await deliver_reviews(services, bot, TERM, term)
    assert [d["chat_id"] for d in bot.documents] == [CHATS["province"], CHATS["city"]]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2027-02-21T10:00", None),  # the term's last day
        ("2027-02-22T07:45", None),  # before the digest time (08:00) on the first day after it
        ("2027-02-22T08:00", "2026-2027 autumn"),
        ("2027-03-10T10:00", "2026-2027 autumn"),  # a missed delivery catches up
        ("2027-03-10T22:00", None),  # quiet hours
        ("2027-03-26T10:00", None),  # over a month later
        ("2027-09-01T09:00", "2026-2027 spring"),  # the last term configured ends with its school year
        ("2026-10-13T10:00", None),  # no term has ended
    ],
)
def test_when_the_term_review_is_due(policy: Policy, moment: str, expected: str | None) -> None:
    due = term_review_due(beijing(moment), policy, TZ)
    assert (due.label if due else None) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2027-08-31T10:00", None),
        ("2027-09-01T08:00", "2026-2027"),
        ("2027-09-20T10:00", "2026-2027"),
        ("2027-10-05T10:00", None),
        ("2026-09-01T08:30", "2025-2026"),
    ],
)
def test_when_the_year_review_is_due(policy: Policy, moment: str, expected: str | None) -> None:
    due = year_review_due(beijing(moment), policy, TZ)
    assert (due.label if due else None) == expected
