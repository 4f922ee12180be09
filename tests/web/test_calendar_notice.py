"""The overview tells admins and county officers when the calendar lacks a year's public holidays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.clock import FixedClock
from tests.web.conftest import AsUser
from tests.web.county import County

NOTICE_2027 = "2027 年节假日安排尚未导入"


@pytest.mark.parametrize(
    ("who", "told"), [("admin", True), ("county", True), ("township", False), ("principal", False)]
)
async def test_from_november_the_missing_next_year_is_announced_to_those_who_can_add_it(
    as_user: AsUser, county: County, clock: FixedClock, who: str, told: bool
) -> None:
    clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    client = await as_user(who)
    page = (await client.get("/dashboard")).text
    assert (NOTICE_2027 in page) is told
    assert "2026 年节假日安排" not in page  # shipped


async def test_in_october_the_next_year_is_not_asked_for_yet(
    as_user: AsUser, county: County, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 10, 31, 15, 0, tzinfo=UTC))  # 23:00 on 31 October in Beijing
    client = await as_user("county")
    assert "节假日安排尚未导入" not in (await client.get("/dashboard")).text
    clock.set(datetime(2026, 10, 31, 16, 0, tzinfo=UTC))  # midnight: 1 November in Beijing
    assert NOTICE_2027 in (await client.get("/dashboard")).text
