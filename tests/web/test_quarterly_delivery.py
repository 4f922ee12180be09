"""一季度一复核 delivered to county officers when a quarter starts: who gets it, once, and when."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from app.container import Services
from domain.policy import Policy
from domain.reports.quarterly_delivery import deliver_quarterly_reviews, review_due
from domain.reports.quarterly_review import Period
from tests.web.county import TZ, County, at
from tests.web.test_monthly_report import FakeBot, bound_coordinators

__all__ = ["bound_coordinators"]  # the fixture, shared with the monthly report's tests


async def test_county_officers_get_the_review_once(
    services: Services, county: County, bound_coordinators: dict[str, int]
) -> None:
    bot = FakeBot(broken={bound_coordinators["county"]})
    period = Period.quarter_of(date(2026, 9, 1))
    failed = await deliver_quarterly_reviews(services, bot, period)
    assert failed.failed and not failed.sent  # retried by the next call
    bot.broken.clear()
    first = await deliver_quarterly_reviews(services, bot, period)
    [doc] = bot.documents  # the county officer only: principals and townships are not sent it
    assert first.sent == failed.failed and doc["chat_id"] == bound_coordinators["county"]
    assert doc["filename"] == "县区一季度一复核_测试县_2026Q3.xlsx"
    assert "测试县 quarterly review 2026Q3: 2 schools, 2 with unconfirmed" in doc["caption"]
    rows = list(load_workbook(io.BytesIO(doc["document"]))["季度复核"].iter_rows(values_only=True))
    assert {r[2] for r in rows[1:3]} == {"示范镇中心小学", "北岭中学"}
    again = await deliver_quarterly_reviews(services, bot, period)
    assert again.already_sent == first.sent and not again.sent and len(bot.documents) == 1


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 7, 1, 7, 45, tzinfo=TZ), None),  # before the digest time (08:00) on the day
        (at("07-01", 8), "2026Q2"),
        (at("10-01", 10), None),  # National Day: a public holiday, no messages (docs/calendar.md)
        (at("10-08", 8), "2026Q3"),  # the first working day after it
        (at("10-13", 10), "2026Q3"),  # later in the month: a missed delivery catches up
        (at("10-13", 22), None),  # quiet hours
        (at("11-02", 10), None),  # not the first month of a quarter
        (at("07-01", 10), "2026Q2"),
        (at("01-05", 10), "2025Q4"),
    ],
)
def test_when_the_review_is_due(policy: Policy, moment: datetime, expected: str | None) -> None:
    due = review_due(moment, policy, TZ)
    assert (due.label if due else None) == expected


def test_no_review_on_a_skipped_day(policy: Policy) -> None:
    weekends_off = replace(policy, skip_weekends=True)
    assert review_due(at("10-17", 10), weekends_off, TZ) is None  # a Saturday
    assert review_due(at("10-19", 10), weekends_off, TZ) is not None
    assert review_due(at("10-10", 10), weekends_off, TZ) is not None  # a Saturday worked (调休上班)
