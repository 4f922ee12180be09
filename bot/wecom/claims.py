"""How long a processor holds an inbox row, and how long a row waits after a failed try.

Every web worker (uvicorn --workers N, several hosts) runs a processor over the same inbox: a row is
claimed for CLAIM_FOR and the claim renewed while it is handled, so a killed worker's row is taken over
once its claim lapses. A row whose reply could not be sent waits RETRY_FIRST, then twice as long after
each further failure, up to RETRY_CAP: a short blip costs the member a second, an outage does not
hammer WeCom. Times come from the processor's clock (the hosts' clocks must agree, as for leases)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.conversations.apply import InputServices
from bot.wecom.inbound import CHANNEL

log = logging.getLogger(__name__)
CLAIM_FOR = timedelta(seconds=60)
RENEW_EVERY = 20.0  # seconds: a third of the claim, so one slow renewal does not lose it
CLAIM_BATCH = 8  # members handled at once by one processor; the others are left to the other workers
RETRY_FIRST = timedelta(seconds=1)
RETRY_CAP = timedelta(minutes=5)
IDLE_POLL = 30.0  # seconds: looks for rows another worker stored but did not handle at least this often


def holder_name() -> str:
    """This processor, as its claims name it: host, process id and a random part (several per process)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def retry_after(failures: int) -> timedelta:
    """The wait after the `failures`-th failed try of a row (1, 2, 4 … seconds, at most RETRY_CAP)."""
    if failures >= 20:  # 2**19 s is far past the cap; no huge powers
        return RETRY_CAP
    return min(RETRY_CAP, RETRY_FIRST * 2 ** max(failures - 1, 0))


@contextlib.asynccontextmanager
async def renewed(
    services: InputServices, agent_id: int, holder: str, update_ids: list[int]
) -> AsyncIterator[None]:
    """Renews the claims on these rows every RENEW_EVERY seconds while the block runs."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                async with services.uow() as uow:
                    until = services.clock.now() + CLAIM_FOR
                    await uow.inbox.renew(
                        update_ids, channel=CHANNEL, bot_id=agent_id, holder=holder, until=until
                    )
                    await uow.commit()
            except SQLAlchemyError as exc:  # tried again at the next beat; the claim lasts till then
                log.warning("wecom: claims not renewed: %r", exc)

    task = asyncio.create_task(renew(), name="wecom-claims")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
