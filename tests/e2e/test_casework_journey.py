"""Whole lives of three cases, as the people do them: teachers in chat (on Telegram or WeCom, the product
against each channel's emulator), coordinators on the dashboard (headless Chromium) and in their daily digest, the scheduler's
reminders and the clock moved by hand.

- suspected → classified and cleared (核减) with its proof;
- suspected → a visit that reaches nobody → missing (失踪失联, police reference) → re-checked a month later;
- suspected → dropout → visits → the notice (《劝返复学通知书》) → 7 days → escalated → the report nobody
  sent climbs to the township officer, who takes it on in chat → reported → order to comply → back at
  school → retention checks → closing proposed → approved from the digest → a new absence reopens it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.container import Services, build_services
from app.scheduler import ReminderScheduler
from app.settings import load_settings
from bot.sender import ReminderSender
from domain.casework.automatic import apply_due
from domain.clock import FixedClock
from domain.people.webauth import create_user
from domain.privacy.identity import mask_name
from domain.reminders.digest import build_digests
from domain.reminders.planning import replan_cases
from storage.models import Case, Student
from tests.browser import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.conftest import PersonFactory
from tests.e2e.people import Person, Said
from tests.e2e.reminding import scheduler, tap_for_answer
from tests.e2e.test_visit import image
from tests.factories import World
from tests.web.county import PASSWORD

pytestmark = BROWSER_TEST
__all__ = ["scheduler"]  # the fixture, shared with the other reminder journeys
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

    def __init__(self, services: Services, sender: ReminderSender) -> None:
        self.services, self.sender = services, sender

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


async def report(teacher: Person, pupil: Student, since: str) -> str:
    """/report in chat: the pupil, absent since `since` (typed as people write it), reason unknown."""
    await teacher.send("/report")
    ask = await teacher.expect(pupil.student_number[-4:])
    label = ask.button(pupil.student_number[-4:])
    assert label.startswith(mask_name(pupil.name))
    await teacher.tap(label)
    await teacher.expect("今天")
    await teacher.send(since)
    await teacher.choose("暂不清楚")
    await teacher.choose("完成")
    await teacher.choose("跳过")
    await teacher.choose("✅ 提交")
    return (await teacher.expect(lambda s: "个案" in s.text and "✅ 提交" not in s.buttons)).text


async def to_outcome(teacher: Person, case: Case, *, mode: str, met: str = "监护人") -> Said:
    """/visit → case → today → mode → no colleague → met; leaves the outcome question open."""
    await teacher.send("/visit")
    await teacher.choose(case.number)
    await teacher.choose("今天")
    await teacher.expect("到校约谈")
    await teacher.tap(mode)
    await teacher.expect(lambda s: "完成" in s.buttons and "自动记入" in s.text)
    await teacher.tap("完成")
    await teacher.choose(met)
    return await teacher.expect("外出打工")


async def finish_visit(teacher: Person, *, photo: bool = False) -> None:
    """From the photo question to the submitted visit: a photo or none, no follow-up date, no note."""
    if photo:
        await teacher.expect("家访照片")
        await teacher.send_photo(image("PNG"))
        await teacher.expect("已收到 1/5")
        await teacher.tap("完成")
    else:
        await teacher.expect("可以不附照片")
        await teacher.tap("跳过")
    await teacher.expect("下次跟进")
    await teacher.tap("跳过")
    await teacher.expect("补充")
    await teacher.tap("跳过")
    await teacher.choose("✅ 提交")
    await teacher.expect("家访已记录")


async def case_of(services: Services, pupil: Student) -> Case:
    async with services.uow() as uow:
        case = await uow.cases.latest_for_student(pupil.id)
    assert case is not None
    return case


def says_all(*parts: str) -> Callable[[Said], bool]:
    return lambda s: all(p in s.text for p in parts)


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
    person: PersonFactory,
    world: World,
    services: Services,
    scheduler: ReminderScheduler,
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
    teacher, principal_chat, township_chat = (
        await person("teacher_a"),
        await person("principal"),
        await person("township"),
    )
    desk = Desk(services, scheduler.sender)
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
                await to_outcome(teacher, case2, mode="电话", met="无人应答")
                await teacher.tap("联系不上")
                await finish_visit(teacher)
                message = await principal.decide(case2, "mark_missing", note="示范镇派出所协查 2026-018")
                assert "已完成：标记失踪失联" in message
                await expect(principal.page.locator("#status")).to_have_text("失踪失联")
                desk.at("11-13", 8)  # a month on: the principal's digest asks for the re-check
                await desk.tick()
                digest = await principal_chat.expect("失踪失联儿童复查")
                assert case2.number in digest.text
                message = await principal.decide(case2, "recheck", note="派出所回复：仍在查找")
                assert "复查已记录" in message
                await expect(principal.page.locator("#next-step")).to_contain_text("2026-12-13")

                # 3. A dropout: persuasion, the notice, escalation, the order, the return, the closing.
                await report(teacher, dropout, "11月6日")
                case3 = await case_of(services, dropout)
                await to_outcome(teacher, case3, mode="电话")
                await teacher.tap("拒绝返校")
                await finish_visit(teacher)
                assert (await case_of(services, dropout)).status == "dropped_out"
                desk.at("11-15", 10)
                await to_outcome(teacher, case3, mode="到校约谈")
                await teacher.tap("拒绝返校")
                await teacher.choose("已送达")
                await finish_visit(teacher, photo=True)
                assert (await case_of(services, dropout)).status == "notice_issued"

                desk.at("11-22", 11)  # the notice's week is over: the case escalates by itself
                await desk.tick()
                await teacher.expect(says_all("复学期限已到", case3.number))
                assert (await case_of(services, dropout)).status == "escalated"
                desk.at("11-23", 8)  # next morning: the school is asked to report; officers hear it is coming
                await desk.tick()
                await principal_chat.expect(says_all("书面上报", case3.number))
                await township_chat.expect("学校将书面上报")

                desk.at("11-28", 8)  # nobody reported: two working days after the deadline it climbs
                await desk.tick()
                climbed = await township_chat.expect("逾期未办：书面上报")
                take_on = climbed.button("🙋 我来跟进")
                assert "由您跟进" in await tap_for_answer(township_chat, take_on)
                # A second tap changes nothing and says who took it on.
                assert "已于" in await tap_for_answer(township_chat, take_on, again=True)
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
                await teacher.choose(case3.number)
                await teacher.choose("今天")
                await teacher.choose("学校确认已到校")
                await teacher.choose("是，原学校原班级")
                await teacher.choose("已恢复")
                await teacher.expect("保学措施")
                await teacher.tap("▫️ 结对帮扶")
                await teacher.expect("✅ 结对帮扶")
                await teacher.tap("完成")
                await teacher.expect("照片")
                await teacher.tap("跳过")
                await teacher.choose("✅ 提交")
                await teacher.expect("已确认返校")

                for day, reply in (("12-14", "第 1/2 次"), ("12-30", "审批销号")):
                    desk.at(day, 9)
                    await desk.tick()
                    await teacher.expect(says_all("保学跟踪回访", case3.number))
                    assert reply in await tap_for_answer(teacher, "✅ 仍在正常上学")
                assert (
                    await case_of(services, dropout)
                ).status == "retention"  # a teacher's tap never closes
                desk.at("12-31", 8)
                await desk.tick()
                digest = await principal_chat.expect("已提请销号")
                assert "已批准销号" in await tap_for_answer(principal_chat, digest.button("✅ 批准销号"))
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
