"""What every benchmark needs: scratch databases, a populated county, bots as processes, phones, a table."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from app.container import Services, build_services
from app.settings import load_settings
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from storage.models import Area, ChannelAccount, School, SchoolClass, Staff, Student, TeachingAssignment
from tests import db
from tests.drills.procs import BotProcess, product_env

CREATED = datetime(2026, 8, 20, tzinfo=UTC)


@dataclass
class Row:
    """One line of the results table."""

    bench: str
    backend: str
    figure: str
    value: str
    target: str = ""
    note: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args: str, **kw: str) -> None:
        row = Row(*args, **kw)
        self.rows.append(row)
        print(f"  {row.bench} · {row.backend} · {row.figure}: {row.value} {row.note}", flush=True)

    def render(self) -> str:
        heads = ("benchmark", "db", "figure", "value", "target", "note")
        cells = [heads] + [(r.bench, r.backend, r.figure, r.value, r.target, r.note) for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(heads))]
        lines = [" | ".join(c[i].ljust(widths[i]) for i in range(len(heads))).rstrip() for c in cells]
        lines.insert(1, "-|-".join("-" * w for w in widths))
        return "\n".join(lines)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def spread(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5) * 1e3:.0f} ms, p95 {percentile(values, 0.95) * 1e3:.0f} ms, "
        f"p99 {percentile(values, 0.99) * 1e3:.0f} ms, mean {statistics.mean(values) * 1e3:.0f} ms"
    )


@asynccontextmanager
async def scratch_database(backend: str) -> AsyncIterator[str]:
    """A migrated empty database, removed afterwards: a temporary SQLite file or a PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="nol_bench_") as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await db.migrate(url)
            yield url
        return
    dsn = await db.create_pg_database(prefix="nol_bench")
    try:
        await db.migrate(db.sqlalchemy_url(dsn))
        yield db.sqlalchemy_url(dsn)
    finally:
        await db.drop_pg_database(dsn)


def services_for(url: str, folder: Path, **settings: object) -> Services:
    return build_services(load_settings(database_url=url, media_dir=folder / "media", **settings))


@dataclass
class Teacher:
    staff_id: int
    user: dict  # type: ignore[type-arg]
    pupils: list[Student]


async def populate(
    services: Services, emulator: Emulator, tg_bot: BotState, teachers: int, pupils_per_class: int = 30
) -> list[Teacher]:
    """One school, a class per teacher with its pupils; each teacher bound to an emulator user."""
    users = []
    for n in range(teachers):
        user = emulator.create_user(first_name=f"教师{n}", language_code="zh-hans")
        emulator.registry.chat(emulator.bot(tg_bot.token), user["id"]).started = True
        users.append(user)
    return await populate_school(services, users, pupils_per_class)


async def populate_school(
    services: Services,
    users: list[dict],  # type: ignore[type-arg]
    pupils_per_class: int = 30,
) -> list[Teacher]:
    """One school, a class per teacher with its pupils; teacher n bound to the Telegram user users[n]
    (a Bot API User, or just {"id": ...}), whose chat with the bot is already started."""
    teachers = len(users)
    async with services.uow() as uow:
        s = uow.session
        county = Area(code="B-C", name="基准县", level="county")
        s.add(county)
        await s.flush()
        school = School(code="B-S1", name="基准中心学校", area_id=county.id, stage="nine_year")
        s.add(school)
        await s.flush()
        classes = [
            SchoolClass(school_id=school.id, grade=1 + n % 9, name=f"{n + 1}班") for n in range(teachers)
        ]
        staff = [
            Staff(
                name=f"教师{n}",
                phone=f"135{n:08d}",
                role="class_teacher",
                school_id=school.id,
                created_at=CREATED,
                active=True,
            )
            for n in range(teachers)
        ]
        s.add_all([*classes, *staff])
        await s.flush()
        s.add_all(
            [
                TeachingAssignment(staff_id=t.id, class_id=c.id, is_class_teacher=True)
                for t, c in zip(staff, classes, strict=True)
            ]
        )
        surnames = "张王李赵刘陈杨黄周吴"
        pupils = [
            Student(
                student_number=f"L{n:012d}",
                name=f"{surnames[n % 10]}小{n}",
                sex="MF"[n % 2],
                birth_date=date(2015, 1, 1),
                school_id=school.id,
                class_id=classes[n // pupils_per_class].id,
            )
            for n in range(teachers * pupils_per_class)
        ]
        s.add_all(pupils)
        made = []
        for n, (member, user) in enumerate(zip(staff, users, strict=True)):
            s.add(
                ChannelAccount(
                    staff_id=member.id,
                    channel="telegram",
                    account=str(user["id"]),
                    conversation=str(user["id"]),
                    bound_at=CREATED,
                )
            )
            made.append(Teacher(member.id, user, pupils[n * pupils_per_class : (n + 1) * pupils_per_class]))
        await uow.commit()
    return made


def phones_for(
    emulator: Emulator, tg_bot: BotState, teachers: list[Teacher], client: httpx.AsyncClient
) -> list[Phone]:
    return [Phone(emulator.url, tg_bot.username, t.user, client=client) for t in teachers]


def shared_client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits)


@asynccontextmanager
async def bot_process(
    url: str,
    emulator: Emulator,
    tg_bot: BotState,
    folder: Path,
    module: str = "tests.drills.bot_process",
    **extra: str,
) -> AsyncIterator[BotProcess]:
    """The product's bot (or the echo bot) polling the emulator from its own process."""
    env = product_env(url, tg_bot.token, emulator.url, folder / "media", **extra)
    process = BotProcess(env, folder / f"{module.rsplit('.', 1)[-1]}.log", module=module)
    try:
        await process.start()
        yield process
    finally:
        await process.close()
