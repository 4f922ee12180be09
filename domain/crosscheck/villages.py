"""Which village of the county a child lives in, told from the addresses the household list gives.

The longest village name found in the address wins (东山村 is in 东山村2组, and so is 山村); two villages
of one name in different townships are told apart by the township's name in the address, else neither
is taken: a wrong village would send the case to the wrong cadre, none leaves it to the county officer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Village:
    id: int
    name: str
    township: str  # the name of the township it belongs to ("" when unknown)


class VillageFinder:
    """Looks village names up in addresses: every substring of the few lengths names have is one dict
    lookup, so 150 000 addresses against a county's hundreds of villages take about a second; repeated
    addresses (one village group, many children) are answered from a cache."""

    def __init__(self, villages: Iterable[Village]) -> None:
        self._by_name: dict[str, list[Village]] = {}
        for village in villages:
            if len(village.name) >= 2:  # a one-character name would be found in almost any address
                self._by_name.setdefault(village.name, []).append(village)
        self._lengths = sorted({len(n) for n in self._by_name}, reverse=True)
        self.find = lru_cache(maxsize=65536)(self._find)

    def _find(self, address: str) -> int | None:
        for length in self._lengths:  # longest first
            found: dict[int, Village] = {}
            for start in range(len(address) - length + 1):
                for village in self._by_name.get(address[start : start + length], ()):
                    found[village.id] = village
            if not found:
                continue
            if len(found) == 1:
                return next(iter(found))
            told = [v for v in found.values() if v.township and v.township in address]
            return told[0].id if len(told) == 1 else None
        return None

    def village_of(self, current: str | None, registered: str | None) -> int | None:
        """The village named in the current address, else in the registered one; None if neither."""
        for address in (current, registered):
            if address:
                found = self.find(address.strip())
                if found is not None:
                    return found
        return None
