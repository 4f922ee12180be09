"""学校一月一报告: the numbers of the known county, the workbook, and delivery in Telegram."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook

from app.container import Services
from domain.monthly_report import deliver_monthly_reports, monthly_numbers
from storage.models import TelegramBinding
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import TZ, County, at

KEYS = (
    "enrolled",
    "new_suspected",
    "new_dropouts",
    "returned",
    "cleared",
    "closed",
    "persuasion_attempts",
    "open_suspected",
    "open_dropouts",
    "in_retention",
)


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        (date(2026, 9, 1), (8, 3, 1, 0, 1, 1, 1, 1, 1, 0)),
        (date(2026, 10, 13), (8, 1, 1, 1, 0, 0, 2, 1, 1, 1)),
        (date(2026, 8, 1), (8, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    ],
)
async def test_monthly_numbers_of_the_known_school(
    uow_factory: UnitOfWorkFactory, county: County, month: date, expected: tuple[int, ...]
) -> None:
    async with uow_factory() as uow:
        numbers = await monthly_numbers(uow, county.world.school.id, month, TZ)
    assert tuple(getattr(numbers, k) for k in KEYS) == expected
    assert numbers.retention_rate == (0.875 if numbers.open_dropouts else 1.0)


async def test_the_other_school_counts_only_its_own_case(
    uow_factory: UnitOfWorkFactory, county: County
) -> None:
    async with uow_factory() as uow:
        numbers = await monthly_numbers(uow, county.school2.id, date(2026, 10, 1), TZ)
    assert (numbers.enrolled, numbers.new_suspected, numbers.open_suspected) == (1, 1, 1)


async def test_monthly_workbook_from_the_dashboard(as_user: AsUser, county: County) -> None:
    client = await as_user("principal")
    reply = await client.get(f"/exports/monthly.xlsx?school={county.world.school.id}&month=2026-10")
    assert reply.status_code == 200
    assert (
        "%E5%AD%A6%E6%A0%A1%E4%B8%80%E6%9C%88%E4%B8%80%E6%8A%A5%E5%91%8A"
        in reply.headers["content-disposition"]
    )
    book = load_workbook(io.BytesIO(reply.content))
    summary, detail = book["月报汇总"], book["月末在册名单"]
    values = {row[0]: row[1] for row in summary.iter_rows(min_row=2, values_only=True)}
    assert values["学校"] == "示范镇中心小学" and values["月份"] == "2026-10"
    assert values["本月新增疑似辍学(人)"] == 1 and values["本月劝返(家访)次数"] == 2
    assert values["月末辍学在册(人)"] == 1 and values["巩固率(按在籍名册)"] == 0.875
    assert summary.freeze_panes == "A2"
    pupils = [
        dict(zip([c.value for c in detail[1]], row, strict=True))
        for row in detail.iter_rows(min_row=2, values_only=True)
    ]
    assert {(p["学生姓名"], p["所在台账"]) for p in pupils} == {
        (county.students["B"].name, "疑似辍学"),
        (county.students["C"].name, "辍学"),
    }
    assert all("*" in str(p["学籍号"]) for p in pupils)  # the principal may not export ID numbers


@dataclass
class FakeBot:
    """Records what would have gone to Telegram; `broken` chat ids fail like a blocked bot."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)

    async def send_document(self, chat_id: int, document: Any, **kwargs: Any) -> None:
        if chat_id in self.broken:
            raise ConnectionError("Forbidden: bot was blocked by the user")
        self.documents.append({"chat_id": chat_id, "document": document, **kwargs})

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        if chat_id in self.broken:
            raise ConnectionError("Forbidden: bot was blocked by the user")
        self.messages.append({"chat_id": chat_id, "text": text})


@pytest.fixture
async def bound_coordinators(uow_factory: UnitOfWorkFactory, county: County) -> dict[str, int]:
    chats = {"principal": 101, "township": 102, "county": 103}
    async with uow_factory() as uow:
        for key, chat in chats.items():
            uow.session.add(
                TelegramBinding(
                    staff_id=county.staff[key].id,
                    telegram_user_id=chat,
                    chat_id=chat,
                    language="en" if key == "county" else "zh-hans",
                    bound_at=at("09-01"),
                )
            )
        await uow.commit()
    return chats


async def test_principals_get_the_workbook_and_officers_a_summary(
    services: Services, county: County, bound_coordinators: dict[str, int]
) -> None:
    bot = FakeBot()
    result = await deliver_monthly_reports(services, bot, date(2026, 10, 28))
    assert len(result.sent) == 3 and not result.failed
    [doc] = bot.documents
    assert doc["chat_id"] == bound_coordinators["principal"] and doc["filename"].endswith("_202610.xlsx")
    assert "月末疑似辍学 1 人，辍学 1 人" in doc["caption"]
    detail = load_workbook(io.BytesIO(doc["document"]))["月末在册名单"]
    names = [str(row[4]) for row in detail.iter_rows(min_row=2, values_only=True)]
    # Telegram is outside mainland China: names masked in the document (DOMAIN.md §8).
    assert sorted(names) == sorted(
        n[0] + "*" + n[-1] for n in (county.students["B"].name, county.students["C"].name)
    )
    texts = {m["chat_id"]: m["text"] for m in bot.messages}
    township, whole = texts[bound_coordinators["township"]], texts[bound_coordinators["county"]]
    assert "示范镇" in township and "1 所学校" in township and "北岭中学" not in township
    assert "2 schools" in whole and "北岭中学" in whole and "New suspected 2" in whole
    for text in texts.values():
        assert not any(s.name in text for s in county.students.values())


async def test_delivery_is_not_repeated_and_failures_are_retried(
    services: Services, county: County, bound_coordinators: dict[str, int]
) -> None:
    bot = FakeBot(broken={bound_coordinators["township"]})
    first = await deliver_monthly_reports(services, bot, date(2026, 10, 28))
    assert len(first.sent) == 2 and len(first.failed) == 1
    bot.broken.clear()
    second = await deliver_monthly_reports(services, bot, date(2026, 10, 28))
    assert second.sent == first.failed and len(second.already_sent) == 2
    assert len(bot.documents) == 1 and len(bot.messages) == 2
