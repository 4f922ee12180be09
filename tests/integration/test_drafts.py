"""Form drafts: every saved step bumps the draft's seq, and of two writers that read the same step only the
first one's answer is kept (the other retries from what was saved)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm.exc import StaleDataError

from storage.models import ChannelAccount
from storage.uow import UnitOfWorkFactory
from tests.factories import build_world

NOW = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)


async def _draft(uow_factory: UnitOfWorkFactory) -> tuple[int, int]:
    world = await build_world(uow_factory)
    teacher = world.staff["teacher_a"]
    async with uow_factory() as uow:
        account = ChannelAccount(
            staff_id=teacher.id, channel="telegram", account="501", conversation="501", bound_at=NOW
        )
        uow.session.add(account)
        await uow.session.flush()
        draft = await uow.drafts.start(
            account.id, staff_id=teacher.id, form="report", step="student", answers={}, now=NOW
        )
        await uow.commit()
        return account.id, draft.seq


async def test_a_saved_step_bumps_seq_and_is_what_the_next_read_sees(uow_factory: UnitOfWorkFactory) -> None:
    account, first = await _draft(uow_factory)
    async with uow_factory() as uow:
        seq = await uow.drafts.save(account, step="reason", answers={"student": "7"}, now=NOW)
        assert seq == first + 1
        await uow.commit()
    async with uow_factory() as uow:
        draft = await uow.drafts.get(account)
        assert draft is not None
        assert (draft.step, draft.answers, draft.seq) == ("reason", {"student": "7"}, first + 1)
        seq = await uow.drafts.save(account, step="note", answers={"student": "7", "reason": "x"}, now=NOW)
        assert seq == first + 2 and (draft.step, draft.seq) == ("note", first + 2)  # the session's row too
        await uow.drafts.submit(account, receipt={"text": "ok"}, now=NOW)  # a later ORM write of the row
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.drafts.get(account) is None  # submitted: a receipt now
        receipt = await uow.drafts.receipt(account, since=NOW)
        assert receipt is not None and receipt.receipt == {"text": "ok"}


async def test_of_two_writers_of_one_step_the_second_fails_and_nothing_of_it_is_kept(
    uow_factory: UnitOfWorkFactory,
) -> None:
    account, first = await _draft(uow_factory)
    async with uow_factory() as one, uow_factory() as two:
        # Both read the step (and hold the row, as the engine does while it works out the answer).
        read = [await one.drafts.get(account), await two.drafts.get(account)]
        assert None not in read
        await one.drafts.save(account, step="reason", answers={"student": "1"}, now=NOW)
        await one.commit()
        with pytest.raises(StaleDataError):
            await two.drafts.save(account, step="reason", answers={"student": "2"}, now=NOW)
    async with uow_factory() as uow:
        draft = await uow.drafts.get(account)
        assert draft is not None and (draft.answers, draft.seq) == ({"student": "1"}, first + 1)
