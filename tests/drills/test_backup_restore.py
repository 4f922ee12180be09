"""Backup and restore of a live deployment: the bot runs as a real process, teachers report and visit
through the emulator, `notoneless backup` and `notoneless restore` run as an operator runs them.

Two backups. One with the traffic stopped, so "the moment of the backup" is the source as it stands:
the restored copy must equal it row for row (every table, ordered by primary key) and photo for photo,
byte for byte. One while a teacher keeps stepping through reports: its exact moment cannot be known from
outside, so it must restore (the restore itself checks every table's row count against the manifest,
which was counted in the very snapshot that was dumped), pass `notoneless doctor`, and hold at least
everything that was there before the traffic started.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.container import Services
from sandbox.emulator import Emulator
from sandbox.state import BotState
from storage.models import InboxUpdate
from tests import db
from tests.drills.conftest import PhoneFactory, invite_code
from tests.drills.procs import BotProcess, log_tail, product_env, spawn
from tests.drills.scripts import bind, report_steps, visit_steps, walk
from tests.factories import World
from tests.snapshots import all_rows, photos, row_counts

NewDatabase = Callable[[], Awaitable[str]]


@pytest.fixture
async def new_database(backend: str, tmp_path: Path) -> AsyncIterator[NewDatabase]:
    """Makes empty databases to restore into: a new SQLite path, or a new PostgreSQL database."""
    made: list[str] = []
    paths = (tmp_path / f"restored{i}" / "notoneless.db" for i in range(100))

    async def make() -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{next(paths)}"
        made.append(await db.create_pg_database("nol_restore"))
        return db.sqlalchemy_url(made[-1])

    yield make
    for dsn in made:
        await db.drop_pg_database(dsn)


class Operator:
    """Runs `notoneless …` as a separate process against one deployment's settings."""

    def __init__(self, emulator: Emulator, tg_bot: BotState, logs: Path) -> None:
        self.emulator, self.tg_bot, self.logs = emulator, tg_bot, logs

    async def run(self, database_url: str, media: Path, *args: str) -> str:
        env = product_env(database_url, self.tg_bot.token, self.emulator.url, media)
        log = self.logs / f"{args[0]}.log"
        process = await spawn(["-c", "from app.cli import main; main()", *args], env, log)
        out, _ = await asyncio.wait_for(process.communicate(), timeout=180)
        assert process.returncode == 0, (
            f"notoneless {' '.join(args)} exited {process.returncode}:\n{log_tail(log)}"
        )
        return out.decode()


async def inbox_drained(services: Services) -> None:
    """Waits until the bot has let go of every update: the last one leaves its inbox after its reply."""
    async with asyncio.timeout(30):
        while True:
            async with services.uow() as uow:  # any bot's rows: the drill runs one
                if not await uow.session.scalar(select(func.count()).select_from(InboxUpdate)):
                    return
            await asyncio.sleep(0.05)


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_a_backup_of_the_running_bot_restores_every_row_and_photo(
    bot_process: BotProcess,
    phones: PhoneFactory,
    world: World,
    services: Services,
    database_url: str,
    new_database: NewDatabase,
    emulator: Emulator,
    tg_bot: BotState,
    tmp_path: Path,
) -> None:
    media = tmp_path / "media"
    operator = Operator(emulator, tg_bot, tmp_path)
    await bot_process.start()
    teacher_a = await phones("王老师")
    await bind(teacher_a, await invite_code(services, world.staff["teacher_a"].id))
    class_a = [s for s in world.students if s.class_id == world.class_a.id]
    for pupil in class_a[:2]:
        await walk(teacher_a, report_steps(pupil), timeout=30)
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(class_a[0].id)
        assert case is not None
    await walk(teacher_a, visit_steps(case.number, jpeg((200, 120, 40))), timeout=30)
    assert photos(media), "the visit's photo is in the store"

    # Traffic stopped: the restored copy equals the source, every row and every photo.
    await inbox_drained(services)
    await operator.run(database_url, media, "backup", str(tmp_path / "quiet.tar"))
    quiet = await new_database()
    restored = await operator.run(quiet, tmp_path / "quiet-media", "restore", str(tmp_path / "quiet.tar"))
    assert "每张表的行数均与清单一致" in restored
    assert await all_rows(quiet) == await all_rows(database_url)
    assert photos(tmp_path / "quiet-media") == photos(media)

    # While a teacher keeps reporting: it restores, passes the doctor and holds all that was there before.
    before, photos_before = await row_counts(database_url), photos(media)
    teacher_b = await phones("李老师")
    await bind(teacher_b, await invite_code(services, world.staff["teacher_b"].id))
    class_b = [s for s in world.students if s.class_id == world.class_b.id]
    backed_up = asyncio.Event()

    async def keep_reporting() -> int:
        """Reports pupils of class B one after another until the backup is written (one each at most)."""
        done = 0
        for pupil in class_b:
            if backed_up.is_set():
                break
            await walk(teacher_b, report_steps(pupil), timeout=30)
            done += 1
        return done

    async def take_backup() -> None:
        await operator.run(database_url, media, "backup", str(tmp_path / "busy.tar"))
        backed_up.set()

    reports, _ = await asyncio.gather(keep_reporting(), take_backup())
    assert reports >= 1

    busy = await new_database()
    await operator.run(busy, tmp_path / "busy-media", "restore", str(tmp_path / "busy.tar"))
    assert "OK" in await operator.run(busy, tmp_path / "busy-media", "doctor")
    after = await row_counts(busy)
    assert {t: n for t, n in before.items() if after.get(t, 0) < n} == {}
    assert photos(tmp_path / "busy-media") == photos_before
    # The source went on: every report made during the backup is there, and the bot still answers.
    await walk(teacher_a, report_steps(class_a[2]), timeout=30)
    async with services.uow() as uow:
        for pupil in [*class_a[:3], *class_b[:reports]]:
            assert await uow.cases.open_for_student(pupil.id) is not None
