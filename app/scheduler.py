"""The reminder scheduler: APScheduler only wakes things up; the truth is the reminder rows.

APScheduler's job stores cannot be shared between processes and python-telegram-bot's JobQueue keeps
jobs in memory, so neither holds a reminder. Jobs here only: replan every open case at start (an edited
policy file takes effect on restart), plan the monthly report reminders and the term-start roll-call
prompts (domain.reminders.term_start) daily, send the quarterly, term and year reviews when their period has
ended (domain.reports.review_delivery), and every few seconds
replan cases changed since the last tick (a safety net for changes made without planning), build the
coordinators' digests, drain the outbox, carry out the moves deadlines make by themselves
(domain.casework.automatic) and replan the cases whose reminders went out (so the next one is pending), and every few minutes count the overview of large areas
(domain.reports.overview_snapshots), and once a day remove what is past the retention limits (domain.privacy.retention).
Several schedulers may run against one database, but only
the leader (app.leadership) does any of this, so the bot's whole message budget is one process's rate;
the others stand by and take over when it dies. Rows are still claimed before sending and digests have
unique keys, so even during a hand-over each reminder goes out once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram import Bot
from telegram.request import HTTPXRequest

from app.container import Services
from app.leadership import Leadership
from bot.context import CHANNEL
from bot.messenger import ChannelMessenger, Messengers, TelegramMessenger
from bot.sender import ReminderSender, worker_name
from bot.wecom.inbound import CHANNEL as WECOM
from bot.wecom.messenger import WeComMessenger
from domain.calendar.coverage import warn_missing_holidays
from domain.casework.automatic import apply_due
from domain.casework.invariant import heal
from domain.home_teaching.reminders import replan_home_teaching
from domain.privacy.retention import run_retention
from domain.reminders.digest import build_digests
from domain.reminders.planning import (
    plan_monthly_reports,
    plan_term_start_prompts,
    replan_all,
    replan_cases,
    replan_changed,
)
from domain.reports.monthly_report import deliver_monthly_reports
from domain.reports.overview_snapshots import refresh as refresh_overview
from domain.reports.quarterly_delivery import deliver_quarterly_reviews, review_due
from domain.reports.review_delivery import TERM, YEAR, ReviewKind, deliver_reviews
from domain.reports.review_periods import Span, term_review_due, year_review_due

log = logging.getLogger(__name__)
WAKE_EVERY = 10.0  # seconds between outbox drains
HEAL_EVERY = 300.0  # seconds between checks for cases that went silent (domain.casework.invariant)
REPLAN_OVERLAP = timedelta(minutes=1)  # covers transactions that committed a little after their clock read
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C; systemd's KillSignal and deploys


def make_bot(token: str, base_url: str, base_file_url: str) -> Bot:
    """A plain Bot for the sender: its own connection pool, no PTB rate limiter (bot.sender limits)."""
    request = HTTPXRequest(connection_pool_size=32, pool_timeout=10.0, read_timeout=10.0, write_timeout=10.0)
    return Bot(token, base_url=base_url, base_file_url=base_file_url, request=request)


class ReminderScheduler:
    """Runs inside `notoneless run` (default) or alone as `notoneless scheduler`."""

    def __init__(
        self,
        services: Services,
        bot: Bot,
        *,
        wake_every: float = WAKE_EVERY,
        sender: ReminderSender | None = None,
        renew_every: float | None = None,
    ) -> None:
        self.services = services
        self.bot = bot
        # Each person is written to on their channel: Telegram always, WeCom when configured.
        channels: dict[str, ChannelMessenger] = {CHANNEL: TelegramMessenger(bot, services.send_limiter)}
        self.wecom = services.wecom_client()
        if self.wecom is not None:
            channels[WECOM] = WeComMessenger(self.wecom, services.wecom_limiter)
        self.messenger = Messengers(channels)
        self.wake_every = wake_every
        self.sender = sender or ReminderSender(
            services.uow,
            self.messenger,
            policy=services.policy,
            tz=services.tz,
            clock=services.clock,
            worker=worker_name(),
            default_language=services.settings.default_language,
        )
        # The lease holder is the sender's worker id, so `claimed_by` on a sent row names the leader.
        self.leadership = Leadership(
            services.uow,
            services.clock,
            holder=self.sender.worker,
            lease=services.policy.reminders.leader_lease,
            renew_every=renew_every,
            on_elected=self._elected,
        )
        self.scheduler = AsyncIOScheduler(timezone=services.tz)
        self._tick_lock = asyncio.Lock()
        self._monthly_lock = asyncio.Lock()
        self._replanned_at = services.clock.now()
        self._replan_all = True

    async def start(self) -> None:
        """Starts the periodic jobs and campaigns for the lease. Each time this process becomes leader
        its next tick runs at once and begins by replanning every case (in the background, so a large
        county does not delay the web server and the bot)."""
        self._replan_all = True
        # Two instances: while a long drain runs, the next wake-up finds the tick lock taken and returns at
        # once, instead of APScheduler warning every few seconds that it skipped a run.
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.wake_every,
            id="tick",
            max_instances=2,
            coalesce=True,
            next_run_time=datetime.now(self.services.tz),
        )
        self.scheduler.add_job(
            self.plan_monthly, "cron", hour=0, minute=5, id="monthly", max_instances=1, coalesce=True
        )
        at = self.services.policy.reminders.digest_time
        self.add_daily("monthly-report", self.deliver_monthly, hour=at.hour, minute=at.minute)
        self.add_daily("quarterly-review", self.deliver_quarterly, hour=at.hour, minute=at.minute)
        self.add_daily("term-year-reviews", self.deliver_term_and_year, hour=at.hour, minute=at.minute)
        self.scheduler.add_job(
            self.heal, "interval", seconds=HEAL_EVERY, id="heal", max_instances=1, coalesce=True
        )
        keep = self.services.policy.data_retention.run_at
        self.add_daily("retention", self.retention, hour=keep.hour, minute=keep.minute)
        if every := self.services.settings.overview_refresh_seconds:
            self.scheduler.add_job(
                self.refresh_overview,
                "interval",
                seconds=every,
                id="overview",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(self.services.tz),
            )
        self.scheduler.start()
        log.info("reminder scheduler started (worker %s)", self.sender.worker)
        self.check_calendar()
        await self.leadership.start()

    def _elected(self) -> None:
        """A new leader replans everything, counts the overview and catches up on a monthly delivery its
        predecessor missed."""
        self._replan_all = True
        if self.scheduler.running:
            now = datetime.now(self.services.tz)
            self.scheduler.modify_job("tick", next_run_time=now)
            if self.scheduler.get_job("overview") is not None:
                self.scheduler.modify_job("overview", next_run_time=now)
            self.scheduler.add_job(
                self.deliver_monthly, id="monthly-report-catch-up", replace_existing=True, next_run_time=now
            )
            self.scheduler.add_job(
                self.deliver_quarterly,
                id="quarterly-review-catch-up",
                replace_existing=True,
                next_run_time=now,
            )
            self.scheduler.add_job(
                self.deliver_term_and_year,
                id="term-year-reviews-catch-up",
                replace_existing=True,
                next_run_time=now,
            )

    def add_daily(self, name: str, job: Callable[[], Awaitable[object]], hour: int, minute: int = 0) -> None:
        """Another daily job in the same scheduler (e.g. delivering monthly reports)."""
        self.scheduler.add_job(job, "cron", hour=hour, minute=minute, id=name, max_instances=1, coalesce=True)

    async def stop(self) -> None:
        """Stops waking up, lets the current drain finish its in-flight messages (bounded), then gives
        up the lease so a standby takes over at once."""
        self.sender.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        try:
            async with asyncio.timeout(30):
                async with self._tick_lock:
                    pass
        except TimeoutError:
            log.warning("reminder drain still running at shutdown; its claims expire after the lease")
        await self.leadership.stop()
        if self.wecom is not None:
            await self.wecom.aclose()

    async def replan(self) -> None:
        s = self.services
        self._replanned_at = s.clock.now()
        await replan_all(s.uow, s.policy, self._replanned_at, s.tz)

    def check_calendar(self) -> list[int]:
        """Warns when the calendar lacks this year's public holidays (from 1 November: next year's)."""
        s = self.services
        return warn_missing_holidays(s.policy, s.clock.now().astimezone(s.tz).date(), log)

    async def plan_monthly(self) -> None:
        if not self.leadership.holds():
            return
        self.check_calendar()  # daily, so a scheduler running since October says it on 1 November
        s = self.services
        async with s.uow() as uow:
            await plan_monthly_reports(uow, policy=s.policy, now=s.clock.now(), tz=s.tz)
            # 开学点名: a class teacher added since yesterday, inside the roll-call window, is prompted too.
            await plan_term_start_prompts(uow, policy=s.policy, now=s.clock.now(), tz=s.tz)
            await uow.commit()

    async def deliver_monthly(self) -> None:
        """On the configured day (一月一报告, 003_ee1c82519c64281c.txt), from the digest time on, the leader
        sends each principal the school's report of the previous calendar month as .xlsx and officers a
        summary; already-served people are skipped (also by a new leader catching up the same day)."""
        s = self.services
        local = s.clock.now().astimezone(s.tz)
        if local.day != s.policy.monthly_report_day or local.time() < s.policy.reminders.digest_time:
            return
        if not self.leadership.holds() or self._monthly_lock.locked():
            return
        try:
            async with self._monthly_lock:
                last_month = local.date().replace(day=1) - timedelta(days=1)
                delivery = await deliver_monthly_reports(
                    s, self.messenger, last_month, keep_going=self.leadership.holds
                )
            log.info(
                "monthly reports: %d sent, %d already sent, %d failed",
                len(delivery.sent),
                len(delivery.already_sent),
                len(delivery.failed),
            )
        except (
            Exception
        ):  # a failed delivery is retried on the next start-up or day; never stop the scheduler
            log.exception("monthly report delivery failed")

    async def deliver_quarterly(self) -> None:
        """一季度一复核: in the first month of a quarter (domain.reports.quarterly_delivery.review_due) the leader
        sends each county officer the review of the quarter just ended; those served are skipped."""
        s = self.services
        period = review_due(s.clock.now(), s.policy, s.tz)
        if period is None or not self.leadership.holds() or self._monthly_lock.locked():
            return
        try:
            async with self._monthly_lock:
                delivery = await deliver_quarterly_reviews(
                    s, self.messenger, period, keep_going=self.leadership.holds
                )
            if delivery.sent or delivery.failed:
                log.info(
                    "quarterly reviews %s: %d sent, %d failed",
                    period.label,
                    len(delivery.sent),
                    len(delivery.failed),
                )
        except Exception:  # retried on the next day or start-up; never stop the scheduler
            log.exception("quarterly review delivery failed")

    async def deliver_term_and_year(self) -> None:
        """一学期一调研 and 一学年一评估: from the day a term (a school year) has ended
        (domain.reports.review_periods), the leader sends each city (province) officer the review of their area;
        those served are skipped. Per-case escalations and digests stop at the county."""
        s = self.services
        now = s.clock.now()
        due: list[tuple[ReviewKind, Span | None]] = [
            (TERM, term_review_due(now, s.policy, s.tz)),
            (YEAR, year_review_due(now, s.policy, s.tz)),
        ]
        for kind, period in due:
            if period is None or not self.leadership.holds() or self._monthly_lock.locked():
                continue
            try:
                async with self._monthly_lock:
                    delivery = await deliver_reviews(
                        s, self.messenger, kind, period, keep_going=self.leadership.holds
                    )
                if delivery.sent or delivery.failed:
                    log.info(
                        "%s reviews %s: %d sent, %d failed",
                        kind.key,
                        period.label,
                        len(delivery.sent),
                        len(delivery.failed),
                    )
            except Exception:  # retried on the next day or start-up; never stop the scheduler
                log.exception("%s review delivery failed", kind.key)

    async def heal(self) -> None:
        """Every few minutes the leader looks for cases that went silent and replans them
        (domain.casework.invariant.heal); what planning cannot fix (no one to own a case) is logged loudly."""
        if not self.leadership.holds():
            return
        s = self.services
        try:
            found, still = await heal(s.uow, s.policy, s.clock.now(), s.tz)
        except Exception:  # the next run tries again; never stop the scheduler
            log.exception("checking for silent cases failed")
            return
        if found:
            log.warning(
                "silent cases: %d found and replanned, %d still silent: %s",
                found,
                len(still),
                ", ".join(f"{v.number} ({'/'.join(v.problems)})" for v in still[:20]),
            )

    async def retention(self) -> None:
        """Once a day the leader removes what is past the policy's retention limits (domain.privacy.retention)."""
        if not self.leadership.holds():
            return
        s = self.services
        try:
            counts = await run_retention(s.uow, s.media, s.policy.data_retention, now=s.clock.now(), tz=s.tz)
        except Exception:  # tomorrow's run tries again; never stop the scheduler
            log.exception("retention run failed")
            return
        log.info(
            "retention: %s", ", ".join(f"{k} {v}" for k, v in counts.as_dict().items() if v) or "nothing due"
        )

    async def refresh_overview(self) -> None:
        """Counts the overview numbers of large areas (domain.reports.overview_snapshots)."""
        if not self.leadership.holds():
            return
        s = self.services
        try:
            done = await refresh_overview(
                s.uow, now=s.clock.now(), tz=s.tz, live_max_cases=s.settings.overview_live_max_cases
            )
            log.info(
                "overview snapshots: %d of %d areas stored in %.1f s", done.stored, done.scopes, done.seconds
            )
        except Exception:  # the dashboard falls back to live counts; try again at the next interval
            log.exception("overview snapshot refresh failed")

    async def tick(self) -> None:
        """Replans (every case on the first tick, then the cases changed since), builds today's digests
        once their time has come, then sends everything due."""
        if self._tick_lock.locked() or not self.leadership.holds():
            return
        async with self._tick_lock:
            s = self.services
            try:
                now = s.clock.now()
                if self._replan_all:
                    await self.replan()
                    self._replan_all = False
                else:
                    await replan_changed(
                        s.uow, s.policy, now, s.tz, since=self._replanned_at - REPLAN_OVERLAP
                    )
                    self._replanned_at = now
                await replan_home_teaching(s.uow, s.policy, now, s.tz)  # 送教上门: a few plans per county
                await build_digests(s.uow, now=now, policy=s.policy, tz=s.tz)
                sent = await self.sender.drain(keep_going=self.leadership.holds)
                if sent:
                    log.info("reminders sent: %d", sent)
                moved = await apply_due(s.uow, now=s.clock.now(), policy=s.policy, tz=s.tz)
                if moved:
                    log.info("cases moved by their deadlines: %d", moved)
                touched, self.sender.touched_cases = sorted(self.sender.touched_cases), set()
                await replan_cases(s.uow, touched, s.policy, s.clock.now(), s.tz)
            except Exception:  # one bad tick must not stop the scheduler; the rows stay for the next one
                log.exception("reminder tick failed")


async def run_standalone(services: Services, stop: asyncio.Event | None = None) -> None:
    """`notoneless scheduler`: no web server, no polling; only a Bot to send with. Runs until SIGTERM
    (what systemd and deploys send), SIGINT or `stop`, then stops cleanly: the leader resigns, so a
    standby takes over within about a second instead of waiting for the lease to run out."""
    settings = services.settings
    token = settings.token
    if token is None:
        raise RuntimeError("no token")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        bot = make_bot(token, settings.telegram_api_base_url, settings.telegram_file_base_url)
        await bot.initialize()
        scheduler = ReminderScheduler(services, bot)
        try:
            await scheduler.start()
            await stop.wait()
            log.info("reminder scheduler stopping")
        finally:
            await scheduler.stop()
            await bot.shutdown()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
