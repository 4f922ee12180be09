"""The wait after a failed try of a WeCom message: a second, doubling with each failure, capped."""

from __future__ import annotations

from datetime import timedelta

from bot.wecom.claims import CLAIM_FOR, RENEW_EVERY, RETRY_CAP, holder_name, retry_after


def test_the_wait_doubles_from_a_second_up_to_the_cap() -> None:
    assert [retry_after(n).total_seconds() for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert retry_after(10) == RETRY_CAP == timedelta(minutes=5)
    assert retry_after(10_000) == RETRY_CAP  # a day-long outage: no huge powers
    assert retry_after(0) == timedelta(seconds=1)


def test_claims_are_renewed_well_within_their_life_and_holders_differ() -> None:
    assert RENEW_EVERY * 2 < CLAIM_FOR.total_seconds()
    assert holder_name() != holder_name() and len(holder_name()) <= 64
