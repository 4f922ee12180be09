"""学校一月一报告: the numbers of the known county, the workbook, and delivery in Telegram."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from app.container import Services
from domain.messages import Address, Message, Unreachable
from domain.policy import Policy
from domain.reports.monthly_report import deliver_monthly_reports, monthly_numbers
from storage.models import ChannelAccount
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import TZ, County, at
from tests.web.ledger_cases import add_ledger_cases

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
        # D (absent → cleared → closed) never was a suspected dropout: not 新增疑似, 核减 nor 销号.
        (date(2026, 9, 1), (8, 2, 1, 0, 0, 0, 1, 1, 1, 0)),
        # B is a plain absence: not 新增疑似辍学, not 月末疑似辍学.
        (date(2026, 10, 13), (8, 0, 1, 1, 0, 0, 2, 0, 1, 1)),
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


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        # A, C, F, G new; A and F drop out; F comes back.
        (date(2026, 9, 1), (8, 4, 2, 1, 0, 0, 4, 2, 1, 1)),
        # H, J new; C drops out; A comes back; J cleared (核减), F closed (销号).
        (date(2026, 10, 1), (8, 2, 1, 1, 1, 1, 2, 2, 1, 1)),
    ],
)
async def test_cleared_and_closed_come_from_the_decisions(
    uow_factory: UnitOfWorkFactory,
    county: County,
    policy: Policy,
    month: date,
    expected: tuple[int, ...],
) -> None:
    await add_ledger_cases(uow_factory, county, policy)
    async with uow_factory() as uow:
        numbers = await monthly_numbers(uow, county.world.school.id, month, TZ)
    assert tuple(getattr(numbers, k) for k in KEYS) == expected


async def test_the_other_school_counts_only_its_own_case(
    uow_factory: UnitOfWorkFactory, county: County
) -> None:
    async with uow_factory() as uow:
        numbers = await monthly_numbers(uow, county.school2.id, date(2026, 10, 1), TZ)
    assert (numbers.enrolled, numbers.new_suspected, numbers.open_suspected) == (1, 1, 1)


async def test_monthly_workbook_from_the_dashboard(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, policy: Policy
) -> None:
    await add_ledger_cases(uow_factory, county, policy)
    client = await as_user("principal")
    reply = await client.get(f"/exports/monthly.xlsx?school={county.world.school.id}&month=2026-10")
    assert reply.status_code == 200
    assert (
        "%E5%AD%A6%E6%A0%A1%E4%B8%80%E6%9C%88%E4%B8%80%E6%8A%A5%E5%91%8A"
        in reply.headers["content-disposition"]
    )
    book = load_workbook(io.BytesIO(reply.content))
    summary, detail = book["月报汇总"], book["月末在册名单"]
    values = {row[0]: row[1] for row in summary.iter_rows(min_row=2, values_only=True) if row[0]}
    assert values["学校"] == "示范镇中心小学" and values["月份"] == "2026-10"
    assert values["本月新增疑似辍学(人)"] == 2 and values["本月劝返(家访)次数"] == 2
    assert values["本月核减(人)"] == 1 and values["本月销号(人)"] == 1
    assert values["月末辍学在册(人)"] == 1 and values["巩固率(按在籍名册)"] == 0.875
    assert summary.freeze_panes == "A2"
    pupils = [
        dict(zip([c.value for c in detail[1]], row, strict=True))
        for row in detail.iter_rows(min_row=2, values_only=True)
    ]
    assert {(p["学生姓名"], p["所在台账"]) for p in pupils} == {
        (county.students["C"].name, "辍学"),
        (county.students["G"].name, "疑似辍学"),
        (county.students["H"].name, "疑似辍学"),
    }
    assert all("*" in str(p["学籍号"]) for p in pupils)  # the principal may not export ID numbers


async def test_the_summary_ends_with_the_sign_off_and_room_for_the_stamp(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("county")
    reply = await client.get(f"/exports/monthly.xlsx?school={county.world.school.id}&month=2026-09")
    summary = load_workbook(io.BytesIO(reply.content))["月报汇总"]
    lines = [row for row in summary.iter_rows(values_only=True)]
    blank = lines.index((None, None))
    assert lines[blank + 1 : blank + 5] == [
        ("填报单位（盖章）", "示范镇中心小学"),
        ("填报人（签字）", None),  # signed by hand
        ("审核人（校长）", "陈校长"),
        ("填报日期", datetime(2026, 10, 13)),  # the day it is made
    ]
    date_cell = summary.cell(row=blank + 5, column=2)
    assert date_cell.number_format == 'yyyy"年"m"月"d"日"' and date_cell.border.bottom.style == "thin"
    stamp = f"A{blank + 7}:B{blank + 11}"
    assert [str(r) for r in summary.merged_cells.ranges] == [stamp]
    assert summary[f"A{blank + 7}"].value == "（单位盖章）"


@dataclass
class FakeBot:
    """A Messenger that records what would have been sent; `broken` chat ids fail like a blocked bot."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)

    async def send_file(self, to: Address, data: bytes, *, filename: str, caption: str) -> str:
        if int(to.conversation) in self.broken:
            raise Unreachable("Forbidden: bot was blocked by the user", blocked=True)
        self.documents.append(
            {"chat_id": int(to.conversation), "document": data, "filename": filename, "caption": caption}
        )
        return str(len(self.documents))

    async def send(self, to: Address, message: Message, language: str) -> str:
        raise AssertionError("reports and reviews send no buttons")

    async def pace(self, to: Address) -> None:
        return None

    def hold(self, to: Address, seconds: float) -> None:
        return None

    async def send_text(self, to: Address, text: str) -> str:
        if int(to.conversation) in self.broken:
            raise Unreachable("Forbidden: bot was blocked by the user", blocked=True)
        self.messages.append({"chat_id": int(to.conversation), "text": text})
        return str(len(self.messages))


@pytest.fixture
async def bound_coordinators(uow_factory: UnitOfWorkFactory, county: County) -> dict[str, int]:
    chats = {"principal": 101, "township": 102, "county": 103}
    async with uow_factory() as uow:
        for key, chat in chats.items():
            uow.session.add(
                ChannelAccount(
                    staff_id=county.staff[key].id,
                    channel="telegram",
                    account=str(chat),
                    conversation=str(chat),
                    bound_at=at("09-01"),
                )
            )
            person = await uow.directory.staff(county.staff[key].id)
            assert person is not None
            # The county officer's phone is in English (never chose); the township officer chose 中文.
            if key == "county":
                person.reported_language = "en"
            elif key == "township":
                person.language, person.reported_language = "zh_CN", "en"
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
    assert "月末疑似辍学 0 人，辍学 1 人" in doc["caption"]
    book = load_workbook(io.BytesIO(doc["document"]))
    detail = book["月末在册名单"]
    names = [str(row[4]) for row in detail.iter_rows(min_row=2, values_only=True)]
    # Telegram is outside mainland China: names masked in the document (DOMAIN.md §8).
    assert names == [county.students["C"].name[0] + "*" + county.students["C"].name[-1]]
    signed = {row[0]: row[1] for row in book["月报汇总"].iter_rows(values_only=True)}
    assert signed["填报日期"] == datetime(2026, 10, 13) and signed["审核人（校长）"] == "陈校长"
    texts = {m["chat_id"]: m["text"] for m in bot.messages}
    township, whole = texts[bound_coordinators["township"]], texts[bound_coordinators["county"]]
    assert "示范镇" in township and "1 所学校" in township and "北岭中学" not in township
    # The month's new suspected dropout is E, of 北岭中学; B, a plain absence, is not one.
    assert "2 schools" in whole and "北岭中学" in whole and "New suspected 1" in whole
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
