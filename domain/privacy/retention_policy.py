"""How long personal data is kept (PIPL art. 47): the [data_retention] table of the policy file.
The reasons for each default are in docs/retention.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any


@dataclass(frozen=True)
class DataRetention:
    """Every limit is a county's choice; the defaults are the shipped policy file's."""

    # A closed (销号) or cleared (核减) case is anonymised once both hold: it ended this many years ago,
    closed_case_years: int = 3
    # and the child has reached this age, past compulsory schooling (6–15).
    past_age: int = 17
    audit_years: int = 3  # audit entries older than this are deleted
    processed_updates: timedelta = timedelta(days=3)  # applied chat update ids (and their replies)
    inbox: timedelta = timedelta(days=7)  # polled updates never handled (their text stays no longer)
    draft_photos: timedelta = timedelta(days=2)  # photos of a visit never submitted, and stray files
    # Saved cross-checks (names, ID numbers, addresses) kept per county: the latest and the one it is
    # compared with; older runs' children go (those a case came from lose their personal details).
    crosscheck_runs: int = 2
    run_at: time = time(3, 30)  # local time of the daily run


def data_retention(data: dict[str, Any]) -> DataRetention:
    """Reads [data_retention]; missing keys keep their defaults. Raises PolicyError naming the key."""
    from domain.policy import PolicyError, parse_duration

    base = DataRetention()
    table = data.get("data_retention", {})
    if not isinstance(table, dict):
        raise PolicyError("data_retention: must be a table")

    def years(key: str, default: int, minimum: int) -> int:
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise PolicyError(f"data_retention.{key}: must be a whole number of at least {minimum}")
        return value

    def duration(key: str, default: timedelta) -> timedelta:
        found = parse_duration(table[key], f"data_retention.{key}") if key in table else default
        if found <= timedelta(0):
            raise PolicyError(f"data_retention.{key}: must be greater than 0")
        return found

    run_at = base.run_at
    if "run_at" in table:
        try:
            run_at = time.fromisoformat(str(table["run_at"]))
        except ValueError:
            raise PolicyError(
                f"data_retention.run_at: {table['run_at']!r} is not a time like 03:30"
            ) from None
    return DataRetention(
        closed_case_years=years("closed_case_years", base.closed_case_years, 1),
        past_age=years("past_age", base.past_age, 16),
        audit_years=years("audit_years", base.audit_years, 1),
        processed_updates=duration("processed_updates", base.processed_updates),
        inbox=duration("inbox", base.inbox),
        draft_photos=duration("draft_photos", base.draft_photos),
        crosscheck_runs=years("crosscheck_runs", base.crosscheck_runs, 2),
        run_at=run_at,
    )
