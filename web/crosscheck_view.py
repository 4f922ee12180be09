"""What the cross-check page may show to whom, its filters, and its rows as displayed (masked unless
the viewer may export personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData, QueryParams

from domain.crosscheck.buckets import BUCKETS
from domain.people.roles import Role
from domain.people.scope import AreaTree
from domain.privacy.identity import mask_address, mask_id, mask_name
from domain.privacy.pii_text import mask_identifiers
from i18n import t
from storage import crosscheck_runs as store
from storage.crosscheck_runs import ChildFilter, Region
from storage.models import Area, CrosscheckChild
from web.deps import PageError, Viewer
from web.filters import _int

CHANGE_FILTERS = ("changes", "new", "changed", "same", "gone")
ACTING_ROLES = frozenset({Role.COUNTY_OFFICER.value, Role.ADMIN.value})
# Township officers read their township's children; nobody else sees the page (403, not in the menu).
READING_ROLES = ACTING_ROLES | {Role.TOWNSHIP_OFFICER.value}


@dataclass(frozen=True)
class Access:
    """The county whose runs the viewer sees; whether they upload, confirm and set aside; and, for a
    township officer, the part of the county they see."""

    county: Area | None
    counties: list[Area]
    can_act: bool
    own: Region | None
    tree: AreaTree
    areas: dict[int, Area]


def _county_above(areas: dict[int, Area], area_id: int | None) -> Area | None:
    for _ in range(10):  # county → township → village: a few levels, bounded against a loop
        area = areas.get(area_id) if area_id is not None else None
        if area is None or area.level == "county":
            return area
        area_id = area.parent_id
    return None


async def access_of(viewer: Viewer, county_id: int | None = None) -> Access:
    """PageError(403) for roles without the page."""
    staff = viewer.identity.staff
    if staff.role not in READING_ROLES:
        raise PageError(403)
    all_areas = await store.areas(viewer.uow.session)
    areas = {a.id: a for a in all_areas}
    tree = AreaTree.of(all_areas, await store.schools(viewer.uow.session))
    if staff.role == Role.ADMIN.value:
        counties = [a for a in all_areas if a.level == "county"]
        chosen = next((a for a in counties if a.id == county_id), counties[0] if counties else None)
        return Access(chosen, counties, True, None, tree, areas)
    county = _county_above(areas, staff.area_id)
    if staff.role == Role.COUNTY_OFFICER.value:
        return Access(county, [county] if county else [], True, None, tree, areas)
    own = Region(viewer.scope.village_ids, viewer.scope.school_ids)
    return Access(county, [county] if county else [], False, own, tree, areas)


def villages(access: Access) -> list[Area]:
    """The county's villages, for placing a child the addresses did not place (township · village)."""
    if access.county is None:
        return []
    inside = access.tree.subtree(access.county.id)
    found = [a for a in access.areas.values() if a.id in inside and a.level == "village"]
    return sorted(
        found, key=lambda a: (access.areas[a.parent_id].name if a.parent_id in access.areas else "", a.name)
    )


def townships(access: Access) -> list[Area]:
    """The townships of the county the viewer may filter by (a township officer: their own)."""
    if access.county is None:
        return []
    inside = access.tree.subtree(access.county.id)
    found = [a for a in access.areas.values() if a.id in inside and a.level == "township"]
    if access.own is not None:
        found = [a for a in found if a.id in access.own.village_ids]
    return sorted(found, key=lambda a: (a.name, a.id))


def parse_review(params: QueryParams | FormData, access: Access) -> ChildFilter:
    """The filter of the page (or of a confirmation form); unknown values are ignored."""
    bucket = str(params.get("bucket") or "")
    change = str(params.get("change") or "")
    decided = str(params.get("decided") or "")
    regions = [access.own] if access.own is not None else []
    township = _int(str(params.get("township") or ""))
    if township is not None and township in {a.id for a in townships(access)}:
        under = access.tree.scope_under(0, township)
        regions.append(Region(under.village_ids, under.school_ids))
    return ChildFilter(
        bucket=bucket if bucket in BUCKETS else None,
        change=change if change in CHANGE_FILTERS else None,
        decided={"yes": True, "no": False}.get(decided),
        school_id=_int(str(params.get("school") or "")),
        regions=tuple(regions),
    )


def filter_fields(params: QueryParams | FormData) -> dict[str, str]:
    """The filter's fields as given (for links, hidden inputs and the audit: codes and ids only)."""
    found = {}
    for name in ("county", "bucket", "township", "school", "change", "decided"):
        value = str(params.get(name) or "")[:16]
        if value and all(ch.isalnum() or ch == "_" for ch in value):
            found[name] = value
    return found


def link(fields: dict[str, str], **changes: object) -> str:
    query = {**fields, **{k: str(v) for k, v in changes.items() if v not in (None, "")}}
    return "/crosscheck?" + urlencode(query)


@dataclass(frozen=True)
class ChildView:
    """One child as the table shows it."""

    id: int
    name: str
    national_id: str
    birth_date: str
    address: str
    bucket: str
    reason: str
    school: str
    village: str
    change: str
    decision: str
    decided: bool
    case_id: int | None
    poverty: bool
    disability: str
    note: str
    placeable: bool  # 失学 without a village: it must be placed before its case can open


def child_view(viewer: Viewer, access: Access, c: CrosscheckChild, *, pii: bool) -> ChildView:
    lang = viewer.language
    params: dict[str, Any] = {
        "school": "",
        "case": "",
        "status": "",
        "number": "",
        "age": "",
        **(c.params or {}),
    }
    conflicts = (c.detail or {}).get("conflicts", [])
    if c.reason in conflicts:
        reason = "；".join(t(lang, f"crosscheck.reason.{code}") for code in conflicts)
    else:
        reason = t(lang, f"crosscheck.reason.{c.reason}", **params)
    village = access.areas.get(c.village_id) if c.village_id is not None else None
    address = c.current_address or c.registered_address or ""
    return ChildView(
        id=c.id,
        name=c.name if pii else mask_name(c.name),
        national_id=(c.national_id or "") if pii else mask_id(c.national_id),
        birth_date=c.birth_date.isoformat() if c.birth_date else "",
        address=address if pii else mask_address(address),
        bucket=t(lang, f"crosscheck.bucket.{c.bucket}"),
        reason=reason if pii else mask_identifiers(reason),
        school=c.school_label or "",
        village=village.name if village else "",
        change=t(lang, f"crosscheck.change.{c.change}") if c.change != "same" else "",
        decision=t(lang, f"web.crosscheck.decision.{c.decision}") if c.decision else "",
        decided=c.decided_at is not None,
        case_id=c.case_id,
        poverty=c.poverty,
        disability=c.disability or "",
        note=_note(lang, c.detail or {}),
        placeable=c.bucket == "out_of_school" and c.village_id is None and c.decided_at is None,
    )


def _note(lang: str, detail: dict[str, Any]) -> str:
    """The set-aside note, or why a 失学 case could not be opened (a catalog key with its parameters)."""
    if refused := detail.get("refused"):
        return t(lang, str(refused), **detail.get("refused_params", {}))
    return str(detail.get("note", ""))
