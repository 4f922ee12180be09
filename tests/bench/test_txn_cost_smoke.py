"""bench.txn_cost runs end to end with one round: every variant did its transactions and took CPU time.
Only what was done is checked, never a timing."""

from __future__ import annotations

from bench.txn_cost import ROUND, measure


async def test_txn_cost_measures_every_variant(backend: str, database_url: str) -> None:
    found = await measure(database_url, ROUND)
    bare = "asyncpg alone:" if backend == "postgresql" else "sqlite3 alone"
    assert {"unit of work: INSERT, commit", "pool checkout and checkin only"} <= set(found)
    assert any(name.startswith(bare) for name in found), found
    assert all(ms > 0 for ms in found.values()), found
