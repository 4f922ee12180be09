"""Case filters from query strings (pages and exports) and back into links."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from domain.casework.lifecycle import CaseStatus
from storage.reporting import CaseFilter

STATUSES = [s.value for s in CaseStatus]
_CODE = re.compile(r"[A-Za-z0-9_]{1,64}")


def _int(value: str | None) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 2**31 else None


def parse_filter(params: QueryParams) -> CaseFilter:
    """Unknown or malformed values are ignored rather than failing the page."""
    category = None
    scheme, _, code = (params.get("category") or "").partition(":")
    if scheme and code:
        category = (scheme[:32], code[:64])
    return CaseFilter(
        statuses=frozenset(s for s in params.getlist("status") if s in STATUSES),
        category=category,
        school_id=_int(params.get("school")),
        village_id=_int(params.get("village")),
        key_group=(params.get("key_group") or "")[:64] or None,
        overdue=params.get("overdue") in ("1", "on"),
    )


def _code(value: str) -> str:
    """A code as it is; anything else typed into the URL (it could be a name) as "?"."""
    return value if _CODE.fullmatch(value) else "?"


def filter_detail(flt: CaseFilter) -> dict[str, object]:
    """The filter as the audit log keeps it: statuses, codes and ids only, the unset ones left out."""
    detail: dict[str, object] = {}
    if flt.statuses:
        detail["status"] = sorted(flt.statuses)
    if flt.category:
        detail["category"] = ":".join(_code(part) for part in flt.category)
    if flt.school_id:
        detail["school"] = flt.school_id
    if flt.village_id:
        detail["village"] = flt.village_id
    if flt.key_group:
        detail["key_group"] = _code(flt.key_group)
    if flt.overdue:
        detail["overdue"] = True
    return detail


def page_number(params: QueryParams) -> int:
    return min(_int(params.get("page")) or 1, 100_000)


def filter_query(flt: CaseFilter, **extra: object) -> str:
    """The query string that reproduces the filter (for the pager and the export links)."""
    pairs: list[tuple[str, object]] = [("status", s) for s in sorted(flt.statuses)]
    if flt.category:
        pairs.append(("category", f"{flt.category[0]}:{flt.category[1]}"))
    for key, value in (("school", flt.school_id), ("village", flt.village_id), ("key_group", flt.key_group)):
        if value:
            pairs.append((key, value))
    if flt.overdue:
        pairs.append(("overdue", "1"))
    pairs += [(k, v) for k, v in extra.items() if v is not None]
    return urlencode(pairs)
