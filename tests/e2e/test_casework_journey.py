"""Whole lives of three cases, as the people do them: teachers in chat (the bot against the Bot API
emulator), coordinators on the dashboard (headless Chromium) and in their daily digest, the scheduler's
reminders and the clock moved by hand.

- suspected → classified and cleared (核减) with its proof;
- suspected → a visit that reaches nobody → missing (失踪失联, police reference) → re-checked a month later;
- suspected → dropout → visits → the notice (《劝返复学通知书》) → 7 days → escalated → the report nobody
  sent climbs to the township officer, who takes it on in chat → reported → order to comply → back at
  school → retention checks → closing proposed → approved from the digest → a new absence reopens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application

from app.container import Services, build_services
from app.settings import load_settings
from domain.casework.automatic import apply_due
from domain.clock import FixedClock
from domain.people.webauth import create_user
from domain.privacy.identity import mask_name
from domain.reminders.digest import build_digests
from domain.reminders.planning import replan_cases
from sandbox.phone import Phone, Predicate
from storage.models import Case, Student
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.people import TelegramPerson
from tests.e2e.test_reminders_delivery import make_sender, sender_bot  # noqa: F401 (a fixture)
from tests.e2e.test_visit import image, send_and_count, to_outcome
from tests.factories import World
from tests.web.county import PASSWORD

pytestmark = BROWSER_TEST
SCREENSHOT = "casework-decisions.png"
CLIP = {"x": 0, "y": 0, "width": 1280, "height": 1000}  # the case, its escalations and decisions


@pytest.fixture
async def services(database_url: str, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Services]:
    settings = load_settings(
        database_url=database_url, telegram_bot_username="nol_e2e_bot", media_dir=tmp_path / "media"
    )
    svc = build_services(settings, clock)
    yield svc
    await svc.close()


class Desk:
    """The scheduler's work, done when the test says: digests, sends, automatic moves, replanning."""

    def __init__(self, services: Services, bot: Bot) -> None:
        self.services = services
        self.sender = make_sender(services, bot)

    async def tick(self) -> None:
        s = self.services
        await build_digests(s.uow, now=s.clock.now(), policy=s.policy, tz=s.tz)
        await self.sender.drain()
        await apply_due(s.uow, now=s.clock.now(), policy=s.policy, tz=s.tz)
        touched, self.sender.touched_cases = sorted(self.sender.touched_cases), set()
        await replan_cases(s.uow, touched, s.policy, s.clock.now(), s.tz)
        await self.sender.drain()

    def at(self, day: str, hour: int) -> None:
        """Moves the clock to a Beijing wall-clock moment of 2026 (never backwards)."""
        moment = datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00").replace(tzinfo=self.services.tz)
        clock = self.services.clock
        assert isinstance(clock, FixedClock) and moment >= clock.now()
        clock.set(moment)


async def report(phone: Phone, pupil: Student, since: str) -> str:
    """/report in chat: the pupil, absent since `since` (typed as people write it), reason unknown."""
    await phone.send("/report")
    ask = await phone.wait_for_reply(lambda m: bool(buttons(m)))
    await phone.tap(
        next(
            b for b in buttons(ask) if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b
        )
    )
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send(since)
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m))
    await phone.tap("暂不清楚")
    await phone.wait_for_reply(lambda m: "完成" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "个案" in m["text"] and "✅ 提交" not in buttons(m))
    return str(done["text"])


async def finish_visit(phone: Phone, *, photo: bool = False) -> None:
    """From the photo question to the submitted visit: a photo or none, no follow-up date, no note."""
    if photo:
        await phone.wait_for_reply(lambda m: "家访照片" in m["text"])
        await send_and_count(TelegramPerson(phone), 1, image("PNG"))
        await phone.tap("完成")
    else:
        await phone.wait_for_reply(lambda m: "可以不附照片" in m["text"])
        await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "家访已记录" in m["text"])


async def case_of(services: Services, pupil: Student) -> Case:
    async with services.uow() as uow:
        case = await uow.cases.latest_for_student(pupil.id)
    assert case is not None
    return case


async def tap_and_answer(phone: Phone, label: str, message_id: int) -> str:
    """Taps a button and returns the short answer the bot shows for that tap."""
    await phone.refresh()
    before = len(phone.callback_answers)
    await phone.tap(label, message_id=message_id)
    for _ in range(150):
        await phone.refresh()
        if len(phone.callback_answers) > before:
            return str(phone.callback_answers[before].get("text", ""))
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not answer the tap")


def says_all(*parts: str) -> Predicate:
    return lambda m: all(p in m["text"] for p in parts)


class Dashboard:
    """A coordinator logged in to the live dashboard in their own browser context."""

    def __init__(self, page: Any, url: str, username: str) -> None:
        self.page, self.url, self.username = page, url, username

    async def sign_in(self) -> None:
        from playwright.async_api import expect

        await self.page.locator("#username").fill(self.username)
        await self.page.locator("#password").fill(PASSWORD)
        await self.page.locator("#login-button").click()
        await expect(self.page.locator("#login-button")).to_have_count(0)

    async def open(self, case: Case) -> None:
        """The case page; after weeks on the clock the session has ended, so sign in again first."""
        from playwright.async_api import expect

        await self.page.goto(f"{self.url}/cases/{case.id}")
        if "/login" in self.page.url:
            await self.sign_in()
        await expect(self.page.locator("h1")).to_contain_text(case.number)

    async def decide(
        self,
        case: Case,
        name: str,
        *,
        code: str | None = None,
        note: str | None = None,
        due: str | None = None,
    ) -> str:
        """Opens the decision's form on the case page, fills it in and submits; returns the message."""
        await self.open(case)
        panel = self.page.locator(f"#decide-{name}")
        await panel.locator("summary").click()
        if code is not None:
            await panel.locator("select[name=code]").select_option(code)
        if due is not None:
            await panel.locator("input[name=due]").fill(due)
        if note is not None:
            await panel.locator("textarea[name=note]").fill(note)
        await panel.locator("button[type=submit]").click()
        return str(await self.page.locator("#message").inner_text())


async def login(browser: Any, url: str, username: str) -> Dashboard:
    from playwright.async_api import expect

    page = await (await browser.new_context(viewport={"width": 1280, "height": 1000})).new_page()
    page.set_default_timeout(20_000)
    await page.goto(f"{url}/login")
    dashboard = Dashboard(page, url, username)
    await dashboard.sign_in()
    await expect(page.locator("h1")).to_be_visible()
    return dashboard


async def test_three_cases_from_the_first_absence_to_their_end(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    sender_bot: Bot,  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.web.live import live_server

    st = world.staff
    async with services.uow() as uow:
        for key in ("principal", "township", "county"):
            await create_user(uow, st[key], key, PASSWORD, now=services.clock.now())
        await uow.commit()
    teacher, principal_phone, township_phone = (
        await bound("teacher_a"),
        await bound("principal"),
        await bound("township"),
    )
    desk = Desk(services, sender_bot)
    cleared, missing, dropout = [s for s in world.students if s.class_id == world.class_a.id][:3]
    ARTIFACTS.mkdir(exist_ok=True)
    assert isinstance(services.clock, FixedClock)
    with live_server(database_url, tmp_path / "media", services.clock) as url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                principal = await login(browser, url, "principal")
                township = await login(browser, url, "township")

                # 1. Suspected (a week away), verified and cleared: enrolled at another school.
                assert "个案编号" in await report(teacher, cleared, "10月6日")
                case1 = await case_of(services, cleared)
                assert case1.status == "suspected"
                message = await principal.decide(case1, "clear", code="B", note="示范镇第二小学出具在读证明")
                assert "已完成：核减" in message
                await expect(principal.page.locator("#status")).to_have_text("已核减")
                await expect(principal.page.locator("#timeline")).to_contain_text(
                    "示范镇第二小学出具在读证明"
                )
                await expect(principal.page.locator("#decide-escalate")).to_have_count(0)  # nothing to report

                # 2. Suspected, nobody at home, marked missing with the police reference, re-checked later.
                await report(teacher, missing, "10月6日")
                case2 = await case_of(services, missing)
                await to_outcome(TelegramPerson(teacher), case2, mode="电话", met="无人应答")
                await teacher.tap("联系不上")
                await finish_visit(teacher)
                message = await principal.decide(case2, "mark_missing", note="示范镇派出所协查 2026-018")
                assert "已完成：标记失踪失联" in message
                await expect(principal.page.locator("#status")).to_have_text("失踪失联")
                desk.at("11-13", 8)  # a month on: the principal's digest asks for the re-check
                await desk.tick()
                digest = await principal_phone.wait_for_reply(lambda m: "失踪失联儿童复查" in m["text"])
                assert case2.number in digest["text"]
                message = await principal.decide(case2, "recheck", note="派出所回复：仍在查找")
                assert "复查已记录" in message
                await expect(principal.page.locator("#next-step")).to_contain_text("2026-12-13")

                # 3. A dropout: persuasion, the notice, escalation, the order, the return, the closing.
                await report(teacher, dropout, "11月6日")
                case3 = await case_of(services, dropout)
                await to_outcome(TelegramPerson(teacher), case3, mode="电话")
                await teacher.tap("拒绝返校")
                await finish_visit(teacher)
                assert (await case_of(services, dropout)).status == "dropped_out"
                desk.at("11-15", 10)
                await to_outcome(TelegramPerson(teacher), case3, mode="到校约谈")
                await teacher.tap("拒绝返校")
                await teacher.wait_for_reply(lambda m: "已送达" in buttons(m))
                await teacher.tap("已送达")
                await finish_visit(teacher, photo=True)
                assert (await case_of(services, dropout)).status == "notice_issued"

                desk.at("11-22", 11)  # the notice's week is over: the case escalates by itself
                await desk.tick()
                await teacher.wait_for_reply(
                    lambda m: "复学期限已到" in m["text"] and case3.number in m["text"]
                )
                assert (await case_of(services, dropout)).status == "escalated"
                desk.at("11-23", 8)  # next morning: the school is asked to report; officers hear it is coming
                await desk.tick()
                await principal_phone.wait_for_reply(
                    lambda m: "书面上报" in m["text"] and case3.number in m["text"]
                )
                await township_phone.wait_for_reply(lambda m: "学校将书面上报" in m["text"])

                desk.at("11-28", 8)  # nobody reported: two working days after the deadline it climbs
                await desk.tick()
                climbed = await township_phone.wait_for_reply(lambda m: "逾期未办：书面上报" in m["text"])
                take_on = next(b for b in buttons(climbed) if b.startswith("🙋 我来跟进"))
                assert "由您跟进" in await tap_and_answer(township_phone, take_on, climbed["message_id"])
                # A second tap changes nothing and says who took it on.
                assert "已于" in await tap_and_answer(township_phone, take_on, climbed["message_id"])
                await principal.open(case3)
                await expect(principal.page.locator("#escalations")).to_contain_text("已认领：周专干")

                await principal.page.locator("#decide-escalate summary").click()  # for docs/casework.md
                await principal.page.screenshot(path=str(ARTIFACTS / SCREENSHOT), clip=CLIP)
                stale = await principal.page.context.new_page()
                await stale.goto(f"{url}/cases/{case3.id}")
                await stale.locator("#decide-escalate summary").click()
                message = await principal.decide(case3, "escalate", note="已报县教育局、示范镇政府")
                assert "书面上报已记录" in message
                # The same report sent again from another tab left open: refused with the reason.
                await stale.locator("#decide-escalate button[type=submit]").click()
                await expect(stale.locator("#message")).to_contain_text("已经书面上报过了")
                await expect(township.page.locator("#decide-refer_legal")).to_have_count(0)
                message = await township.decide(
                    case3, "order_compliance", due="2026-12-07", note="示范镇〔2026〕12号"
                )
                assert "责令限期改正已记录" in message
                await expect(township.page.locator("#next-step")).to_contain_text("改正期满核查")

                desk.at("11-30", 9)  # back at school before the deadline
                await teacher.send("/return")
                ask = await teacher.wait_for_reply(lambda m: any(case3.number in b for b in buttons(m)))
                await teacher.tap(next(b for b in buttons(ask) if case3.number in b))
                await teacher.wait_for_reply(lambda m: "今天" in buttons(m))
                await teacher.tap("今天")
                await teacher.wait_for_reply(lambda m: "学校确认已到校" in buttons(m))
                await teacher.tap("学校确认已到校")
                await teacher.wait_for_reply(lambda m: "是，原学校原班级" in buttons(m))
                await teacher.tap("是，原学校原班级")
                await teacher.wait_for_reply(lambda m: "尚未恢复" in buttons(m))
                await teacher.tap("已恢复")
                await teacher.wait_for_reply(lambda m: "保学措施" in m["text"])
                await teacher.tap("▫️ 结对帮扶")
                await teacher.wait_for_reply(lambda m: "✅ 结对帮扶" in buttons(m))
                await teacher.tap("完成")
                await teacher.wait_for_reply(lambda m: "照片" in m["text"])
                await teacher.tap("跳过")
                await teacher.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
                await teacher.tap("✅ 提交")
                await teacher.wait_for_reply(lambda m: "已确认返校" in m["text"])

                for day, reply in (("12-14", "第 1/2 次"), ("12-30", "审批销号")):
                    desk.at(day, 9)
                    await desk.tick()
                    check = await teacher.wait_for_reply(says_all("保学跟踪回访", case3.number))
                    assert reply in await tap_and_answer(teacher, "✅ 仍在正常上学", check["message_id"])
                assert (
                    await case_of(services, dropout)
                ).status == "retention"  # a teacher's tap never closes
                desk.at("12-31", 8)
                await desk.tick()
                digest = await principal_phone.wait_for_reply(lambda m: "已提请销号" in m["text"])
                approve = next(b for b in buttons(digest) if b.startswith("✅ 批准销号"))
                assert "已批准销号" in await tap_and_answer(principal_phone, approve, digest["message_id"])
                closed = await case_of(services, dropout)
                assert closed.status == "closed" and closed.next_step is None

                # 4. Absent again in the same school year: the same case reopens, nothing is swallowed.
                desk.at("12-31", 10)
                text = await report(teacher, dropout, "今天")
                assert "已重新开启" in text and case3.number in text
                reopened = await case_of(services, dropout)
                assert reopened.id == case3.id and reopened.status == "absent"
                assert reopened.next_step == "first_visit"
                await principal.open(reopened)
                await expect(principal.page.locator("#timeline")).to_contain_text("批准销号")
            finally:
                await browser.close()
