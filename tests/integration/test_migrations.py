"""Migrations run up from an empty database on both backends and match the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, column, insert, inspect, select, table
from sqlalchemy.engine import Connection

from domain.clock import FixedClock
from storage.db import make_engine, make_sessionmaker
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import Base, Code
from storage.types import UTCDateTime
from storage.uow import UnitOfWorkFactory
from tests import db


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    if not await db.postgres_available():
        if db.on_ci():
            pytest.fail("PostgreSQL is required under CI=true")
        pytest.skip("PostgreSQL not reachable")
    dsn = await db.create_pg_database("nol_mig")
    try:
        yield db.sqlalchemy_url(dsn)
    finally:
        await db.drop_pg_database(dsn)


def _diff(conn: Connection) -> list[object]:
    return list(
        compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    )


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrations_run_up_from_empty_and_match_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert set(Base.metadata.tables) <= await conn.run_sync(_tables)
            codes = (await conn.execute(select(Code.scheme, Code.code))).all()
        assert ("verification_2019", "G") in codes
        assert ("key_group", "left_behind") in codes
        # Codes the sources leave unknown are not invented (DOMAIN.md §4).
        assert not {("verification_2019", "J"), ("verification_2019", "K"), ("record_system", "A1")} & set(
            codes
        )
    finally:
        await engine.dispose()


async def test_every_migration_steps_down_and_up_again(empty_url: str) -> None:
    """The stairway: each revision upgrades, downgrades and upgrades cleanly."""
    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions("base", "heads"))
    engine = make_engine(empty_url)
    try:
        for rev in reversed(revisions):
            await upgrade(engine, rev.revision)
            await downgrade(engine, rev.down_revision or "base")  # type: ignore[arg-type]
            await upgrade(engine, rev.revision)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_rows_kept_before_updates_were_keyed_by_bot_count_as_the_bots_own(
    empty_url: str, clock: FixedClock
) -> None:
    """Migration 0013 gives existing rows bot 0: a redelivery right after the upgrade is still recognised,
    and an update left in the inbox is replayed once (not stored again when Telegram sends it again)."""
    script = ScriptDirectory.from_config(alembic_config())
    keyed = next(r for r in script.walk_revisions() if r.path.endswith("_updates_keyed_by_bot.py"))
    assert isinstance(keyed.down_revision, str)
    engine = make_engine(empty_url)
    try:
        await upgrade(engine, keyed.down_revision)
        applied = table("processed_updates", column("update_id"), column("processed_at", UTCDateTime()))
        inbox = table(
            "telegram_inbox",
            column("update_id"),
            column("received_at", UTCDateTime()),
            column("payload", JSON()),
        )
        async with engine.begin() as conn:  # as the bot left them before the upgrade
            await conn.execute(insert(applied).values(update_id=41, processed_at=clock.now()))
            await conn.execute(
                insert(inbox).values(update_id=42, received_at=clock.now(), payload={"update_id": 42})
            )
        await upgrade(
            engine, "head"
        )  # and on through 0021, which moves the inbox's rows to channel "telegram"
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
        async with uow_factory() as uow:
            assert await uow.updates.seen(
                41, channel="telegram", bot_id=100001
            ) and not await uow.updates.first(41, clock.now(), channel="telegram", bot_id=100001)
            assert list(await uow.inbox.waiting(channel="telegram", bot_id=100001)) == [{"update_id": 42}]
            assert await uow.inbox.has_legacy(channel="telegram")
            assert await uow.inbox.keep(
                {42: {"update_id": 42}, 43: {"update_id": 43}}, clock.now(), channel="telegram", bot_id=100001
            ) == {43}
            await uow.commit()
        async with uow_factory() as uow:
            assert list(await uow.inbox.waiting(channel="telegram", bot_id=100001)) == [
                {"update_id": 42},
                {"update_id": 43},
            ]
            await uow.inbox.forget({42, 43}, channel="telegram", bot_id=100001)
            await uow.commit()
        async with uow_factory() as uow:
            assert list(await uow.inbox.waiting(channel="telegram", bot_id=100001)) == []
            # None left: the bot stops looking for them on every batch.
            assert not await uow.inbox.has_legacy(channel="telegram")
    finally:
        await engine.dispose()


async def test_language_chosen_in_the_chat_moves_onto_the_person(empty_url: str, clock: FixedClock) -> None:
    """Migration 0020: a /language choice kept on the Telegram binding becomes the person's own choice,
    which every channel reads; people who never chose keep none (and step down again keeps the choice)."""
    script = ScriptDirectory.from_config(alembic_config())
    moved = next(r for r in script.walk_revisions() if r.path.endswith("_language_on_staff.py"))
    assert isinstance(moved.down_revision, str)
    engine = make_engine(empty_url)
    staff = table(
        "staff",
        column("id"),
        column("name"),
        column("phone"),
        column("role"),
        column("active"),
        column("language"),
        column("created_at", UTCDateTime()),
    )
    bindings = table(
        "telegram_bindings",
        column("staff_id"),
        column("telegram_user_id"),
        column("chat_id"),
        column("language"),
        column("bound_at", UTCDateTime()),
    )
    try:
        await upgrade(engine, moved.down_revision)
        async with engine.begin() as conn:  # as the bot left them before the upgrade
            for n, chosen in ((1, "en"), (2, None), (3, "zh_CN")):
                await conn.execute(
                    insert(staff).values(
                        id=n,
                        name=f"t{n}",
                        phone=f"1380000000{n}",
                        role="teacher",
                        active=True,
                        created_at=clock.now(),
                    )
                )
                await conn.execute(
                    insert(bindings).values(
                        staff_id=n, telegram_user_id=n, chat_id=n, language=chosen, bound_at=clock.now()
                    )
                )
        await upgrade(engine, moved.revision)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(staff.c.id, staff.c.language).order_by(staff.c.id))).all()
            assert [tuple(r) for r in rows] == [(1, "en"), (2, None), (3, "zh_CN")]
            assert "language" not in {
                c["name"]
                for c in await conn.run_sync(lambda sync: inspect(sync).get_columns("telegram_bindings"))
            }
        await downgrade(engine, moved.down_revision)
        async with engine.connect() as conn:
            back = select(bindings.c.staff_id, bindings.c.language).order_by(bindings.c.staff_id)
            assert [tuple(r) for r in (await conn.execute(back)).all()] == [
                (1, "en"),
                (2, None),
                (3, "zh_CN"),
            ]
    finally:
        await engine.dispose()


async def test_wecom_callbacks_kept_before_claims_are_claimed_in_the_order_sent(
    empty_url: str, clock: FixedClock
) -> None:
    """Migration 0022: WeCom rows a process left in the inbox before the upgrade get their sender and send
    time from the payload, so they are claimed per member in order; stepping down keeps the rows."""
    script = ScriptDirectory.from_config(alembic_config())
    claims = next(r for r in script.walk_revisions() if r.path.endswith("_inbox_claims.py"))
    assert isinstance(claims.down_revision, str)
    engine = make_engine(empty_url)
    inbox = table(
        "inbox",
        column("channel"),
        column("bot_id"),
        column("update_id"),
        column("received_at", UTCDateTime()),
        column("payload", JSON()),
    )
    sent = int(clock.now().timestamp())
    kept = {  # update id -> (sender, CreateTime): ids not in the order sent
        9: ("li", sent + 1),
        8: ("li", sent + 2),
        7: ("wang", sent),
    }
    try:
        await upgrade(engine, claims.down_revision)
        async with engine.begin() as conn:
            for update_id, (sender, created) in kept.items():
                payload = {"FromUserName": sender, "CreateTime": str(created), "MsgType": "text"}
                await conn.execute(
                    insert(inbox).values(
                        channel="wecom",
                        bot_id=1000002,
                        update_id=update_id,
                        received_at=clock.now(),
                        payload=payload,
                    )
                )
            await conn.execute(
                insert(inbox).values(
                    channel="telegram",
                    bot_id=1,
                    update_id=1,
                    received_at=clock.now(),
                    payload={"update_id": 1},
                )
            )
        await upgrade(engine, claims.revision)
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
        now = clock.now() + timedelta(minutes=1)
        claimed: list[set[int]] = []
        for _ in range(2):  # the first claim is handled and forgotten; the second is held when stepping down
            async with uow_factory() as uow:
                rows = await uow.inbox.claim(
                    channel="wecom", bot_id=1000002, holder="p", now=now, until=now, limit=10
                )
                await uow.inbox.forget(
                    [r.update_id for r in rows if not claimed], channel="wecom", bot_id=1000002
                )
                await uow.commit()
            claimed.append({r.update_id for r in rows})
        assert claimed == [{9, 7}, {8}]
        async with uow_factory() as uow:
            assert list(await uow.inbox.waiting(channel="telegram", bot_id=1)) == [{"update_id": 1}]
        await downgrade(engine, claims.down_revision)
        async with engine.connect() as conn:
            assert set((await conn.execute(select(inbox.c.update_id))).scalars().all()) == {1, 8}
            assert "claimed_by" not in {
                c["name"] for c in await conn.run_sync(lambda sync: inspect(sync).get_columns("inbox"))
            }
    finally:
        await engine.dispose()
