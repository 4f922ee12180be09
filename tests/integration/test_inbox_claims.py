"""Inbox claims on both databases: several processors drain one inbox, each row taken by one of them, a
sender's rows one at a time in the order sent; a lapsed claim is taken over; a failed row waits."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import datetime, timedelta

from domain.clock import FixedClock
from storage.uow import UnitOfWorkFactory

AGENT = 1000002
CLAIM = timedelta(seconds=60)


async def keep(
    uow_factory: UnitOfWorkFactory, update_id: int, sender: str, sent_at: datetime, at: datetime
) -> None:
    async with uow_factory() as uow:
        payload = {"FromUserName": sender, "MsgId": str(update_id)}
        await uow.inbox.keep(
            {update_id: payload}, at, channel="wecom", bot_id=AGENT, sender=sender, sent_at=sent_at
        )
        await uow.commit()


async def claim(uow_factory: UnitOfWorkFactory, holder: str, now: datetime, limit: int = 10) -> set[int]:
    async with uow_factory() as uow:
        rows = await uow.inbox.claim(
            channel="wecom", bot_id=AGENT, holder=holder, now=now, until=now + CLAIM, limit=limit
        )
        await uow.commit()
    return {r.update_id for r in rows}


async def forget(uow_factory: UnitOfWorkFactory, *update_ids: int) -> None:
    async with uow_factory() as uow:
        await uow.inbox.forget(update_ids, channel="wecom", bot_id=AGENT)
        await uow.commit()


async def test_a_senders_rows_are_claimed_one_at_a_time_in_the_order_sent(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    now = clock.now()
    # Stored out of order (a later message's callback came first); two sent in the same second go by id.
    await keep(uow_factory, 30, "li", now + timedelta(seconds=2), now)
    await keep(uow_factory, 10, "li", now, now)
    await keep(uow_factory, 20, "li", now + timedelta(seconds=1), now)
    await keep(uow_factory, 12, "wang", now + timedelta(seconds=5), now)
    await keep(uow_factory, 11, "wang", now + timedelta(seconds=5), now)
    async with uow_factory() as uow:  # Telegram's rows are never claimed: its poller reads them alone
        await uow.inbox.keep({1: {"update_id": 1}}, now, channel="telegram", bot_id=AGENT)
        await uow.commit()

    assert await claim(uow_factory, "a", now) == {10, 11}
    assert await claim(uow_factory, "b", now) == set()  # held by "a", and the later rows wait behind them
    assert await claim(uow_factory, "a", now) == set()  # "a" too waits until it forgets them
    await forget(uow_factory, 10)
    assert await claim(uow_factory, "b", now) == {20}
    await forget(uow_factory, 11, 20)
    assert await claim(uow_factory, "a", now, limit=1) == {30}  # the oldest first
    assert await claim(uow_factory, "b", now, limit=1) == {12}
    await forget(uow_factory, 30, 12)
    assert await claim(uow_factory, "a", now) == set()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting(channel="telegram", bot_id=AGENT)) == [{"update_id": 1}]


async def test_a_lapsed_claim_is_taken_over_and_a_renewed_or_released_one_behaves(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    now = clock.now()
    await keep(uow_factory, 1, "li", now, now)
    await keep(uow_factory, 2, "zhao", now, now)
    assert await claim(uow_factory, "dead", now) == {1, 2}
    async with uow_factory() as uow:  # "dead" renews row 2 only, then is killed
        assert (
            await uow.inbox.renew(
                [2, 99], channel="wecom", bot_id=AGENT, holder="dead", until=now + CLAIM * 2
            )
            == 1
        )
        assert (
            await uow.inbox.renew([1], channel="wecom", bot_id=AGENT, holder="other", until=now + CLAIM * 2)
            == 0
        )
        await uow.commit()
    assert await claim(uow_factory, "alive", now + CLAIM - timedelta(seconds=1)) == set()
    assert await claim(uow_factory, "alive", now + CLAIM + timedelta(seconds=1)) == {1}
    assert await claim(uow_factory, "alive", now + CLAIM * 2 + timedelta(seconds=1)) == {2}

    await keep(uow_factory, 3, "qian", now, now)
    assert await claim(uow_factory, "stopping", now) == {3}
    async with uow_factory() as uow:  # a process stopping lets the others take its rows at once
        await uow.inbox.release(channel="wecom", bot_id=AGENT, holder="stopping")
        await uow.commit()
    assert await claim(uow_factory, "alive", now) == {3}


async def test_a_failed_row_waits_and_its_senders_later_rows_wait_behind_it(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    now = clock.now()
    await keep(uow_factory, 1, "li", now, now)
    await keep(uow_factory, 2, "li", now + timedelta(seconds=1), now)
    assert await claim(uow_factory, "a", now) == {1}
    async with uow_factory() as uow:
        await uow.inbox.defer(1, channel="wecom", bot_id=AGENT, until=now + timedelta(seconds=4))
        assert await uow.inbox.next_due(channel="wecom", bot_id=AGENT, after=now) == now + timedelta(
            seconds=4
        )
        await uow.commit()
    assert await claim(uow_factory, "b", now + timedelta(seconds=3)) == set()
    async with uow_factory() as uow:
        rows = await uow.inbox.claim(
            channel="wecom", bot_id=AGENT, holder="b", now=now + timedelta(seconds=5),
            until=now + CLAIM, limit=10,
        )  # fmt: skip
        await uow.commit()
    assert [(r.update_id, r.attempts) for r in rows] == [(1, 1)]
    async with uow_factory() as uow:
        assert await uow.inbox.next_due(channel="wecom", bot_id=AGENT, after=now + CLAIM) is None


async def test_processors_claiming_at_once_take_each_row_once_and_each_sender_in_order(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    """Four processors on their own connections claim, "handle" and forget concurrently: every row is
    handled exactly once, and a sender's rows in the order sent, never two of them at the same time."""
    now = clock.now()
    senders = [f"m{i}" for i in range(8)]
    sent: dict[str, list[int]] = defaultdict(list)
    for n in range(48):  # interleaved senders, ids not in send order
        who = senders[n % len(senders)]
        update_id = 1000 - n if n % 3 else 5000 + n
        await keep(uow_factory, update_id, who, now + timedelta(seconds=n), now)
        sent[who].append(update_id)
    handled: dict[str, list[int]] = defaultdict(list)
    busy: set[str] = set()
    rng = random.Random(7)

    async def processor(name: str) -> None:
        idle = 0
        while idle < 20:
            async with uow_factory() as uow:
                rows = await uow.inbox.claim(
                    channel="wecom", bot_id=AGENT, holder=name, now=now, until=now + CLAIM, limit=3
                )
                await uow.commit()
            idle = 0 if rows else idle + 1
            for row in rows:
                who = row.payload["FromUserName"]
                assert who not in busy, f"two rows of {who} handled at once"
                busy.add(who)
                await asyncio.sleep(rng.random() / 200)
                handled[who].append(row.update_id)
                busy.discard(who)
                await forget(uow_factory, row.update_id)
            await asyncio.sleep(0)

    await asyncio.gather(*(processor(f"p{i}") for i in range(4)))
    assert dict(handled) == dict(sent)
