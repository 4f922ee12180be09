"""What the ledgers write in their text columns: labels, 去向 (whereabouts), 劝返措施 (persuasion
measures) and 核查情况 (verification outcome), from a case's row and its events. Pure: no database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.casework.cases import REASON_SCHEME, VERIFICATION_SCHEME
from domain.casework.lifecycle import CaseStatus
from domain.privacy.identity import mask_address
from i18n import t
from storage.ledger_queries import VISIT_TOKEN

S = CaseStatus
# Official ledgers keep Chinese headers whatever the reader's language (DOMAIN.md §6).
LEDGER_LANGUAGE = "zh_CN"
# How a visit was made (visit data `mode`); visits recorded before the field existed were home visits.
VISIT_MODES = ("home", "phone", "video", "school")
DEFAULT_MODE = "home"
# Persuasion measures beyond the visits, in the order the ledger names them: the written notice
# (001_66f255ef30f14f7a.txt), the report upwards (上报), the order to comply and the referral to the
# justice route (DOMAIN.md §3). Each is recognised by the kind of event that records it, and the first
# two also by the status they move the case to, however it got there (a notice served again, or a
# report made after the system escalated an expired notice, moves nothing).
MEASURES = ("notice_served", "reported", "compliance_ordered", "legal_referral")
MEASURE_KINDS = {k: k for k in MEASURES}
MEASURE_STATUSES = {S.NOTICE_ISSUED.value: "notice_served", S.ESCALATED.value: "reported"}
# Coordinators' verification decisions (domain.casework.decisions) shown as 核查情况, and the events after which
# a case is being verified again (so an earlier decision no longer describes it).
VERIFICATION_DECISIONS = ("classified", "cleared", "deferred", "marked_missing")
VERIFICATION_RESETS = ("reopened", "relapse", "deferral_ended")
_BACK_IN_SCHOOL = frozenset({S.RETURNED, S.RETENTION})
MEMO_MAX = 10_000  # texts remembered per export: the same few labels and measure lists recur on most rows


def iso_date(value: Any) -> date | None:
    """A date written as ISO text in event data, or None."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class LedgerLabels:
    """Everything a row needs that is not in the row: code labels, names, masking, the time zone."""

    codes: Mapping[tuple[str, str], tuple[str, str]]
    staff: Mapping[int, str]
    pii: bool
    tz: ZoneInfo
    today: date
    memo: dict[Any, str] = field(default_factory=dict, compare=False, repr=False)

    def remember(self, key: Any, text: str) -> str:
        if len(self.memo) >= MEMO_MAX:
            self.memo.clear()
        self.memo[key] = text
        return text

    def t(self, key: str, fallback: str = "", **params: Any) -> str:
        if not params and key in self.memo:
            return self.memo[key]
        try:
            text = t(LEDGER_LANGUAGE, key, **params)
        except KeyError:
            text = fallback
        return text if params else self.remember(key, text)

    def code(self, scheme: str | None, code: str | None) -> str:
        return self.codes.get((scheme or "", code or ""), ("", ""))[0]

    def official(self, code: str | None) -> str:
        """The label of a code as decisions record it (A2–A8/B2 record-system, letters verification)."""
        return self.code(REASON_SCHEME, code) or self.code(VERIFICATION_SCHEME, code)

    def flags(self, joined: str | None) -> str:
        return "、".join(self.code("key_group", f) or f for f in sorted(set((joined or "").split(","))) if f)

    def local_date(self, moment: datetime | None) -> date | None:
        return moment.astimezone(self.tz).date() if moment else None

    def address(self, value: str | None) -> str:
        """Addresses locate a child (DOMAIN.md §8): whole only in authorised exports."""
        return (value or "") if self.pii else mask_address(value)

    def mode(self, data: Mapping[str, Any]) -> str:
        mode = str(data.get("mode") or DEFAULT_MODE)
        return self.t(f"ledger.mode.{mode}", mode)


def whereabouts(lb: LedgerLabels, status: str, returned_on: date | None, visit: Any, category: str) -> str:
    """去向: back at school once returned; the verified category once cleared or missing (a decision
    outranks what a visit found); otherwise what the latest visit found, or the category if none."""
    if status in _BACK_IN_SCHOOL or (status == S.CLOSED and returned_on is not None):
        return lb.t("ledger.whereabouts.returned")
    if status in (S.CLEARED, S.MISSING) or not isinstance(visit, Mapping):
        return category
    outcome = str(visit.get("outcome") or "")
    detail = {
        "agreed_to_return": str(visit.get("promised_return_on") or ""),
        "enrolled_elsewhere": str(visit.get("other_school") or ""),
        "other": str(visit.get("outcome_detail") or ""),
    }.get(outcome, "")
    label = lb.t(f"ledger.outcome.{outcome}", outcome)
    if outcome == "agreed_to_return" and detail:
        return lb.t("ledger.whereabouts.promised", label=label, date=detail)
    return lb.t("ledger.with_detail", label=label, detail=detail) if detail else label or category


def measures(lb: LedgerLabels, events: str | None) -> str:
    """劝返措施: the visits by mode, then each other measure taken (once, however often). `events` as
    LedgerQueries.stream_entered gives them: a token per visit, measure kind or measure status."""
    key = ("measures", events)
    if key in lb.memo:
        return lb.memo[key]
    tokens = (events or "").split(",")
    visits = [v[len(VISIT_TOKEN) :] or DEFAULT_MODE for v in tokens if v.startswith(VISIT_TOKEN)]
    parts = []
    if visits:
        counted = Counter(visits)
        known = [m for m in VISIT_MODES if m in counted] + sorted(set(counted) - set(VISIT_MODES))
        by_mode = "、".join(
            lb.t("ledger.measures.mode_count", mode=lb.t(f"ledger.mode.{m}", m), count=counted[m])
            for m in known
        )
        parts.append(lb.t("ledger.measures.visits", count=len(visits), modes=by_mode))
    taken = {MEASURE_KINDS.get(k) or MEASURE_STATUSES.get(k) for k in tokens}
    parts += [lb.t(f"ledger.measures.{k}") for k in MEASURES if k in taken]
    return lb.remember(key, "；".join(parts))


def visit_count(events: str | None) -> int:
    return sum(token.startswith(VISIT_TOKEN) for token in (events or "").split(","))


def verification(lb: LedgerLabels, kind: str | None, data: Any) -> str:
    """核查情况: the code and label of the latest verification decision with its note, proof, police
    report or approval; empty while unverified (also after the case was reopened for verification)."""
    if kind not in VERIFICATION_DECISIONS or not isinstance(data, Mapping):
        return ""
    code = str(data.get("code") or "")
    head = " ".join(p for p in (code, lb.official(code)) if p)
    if kind == "deferred":
        detail = lb.t(
            "ledger.verification.deferred",
            approved_by=str(data.get("approved_by") or ""),
            until=str(data.get("until") or ""),
        )
    elif kind == "marked_missing":
        detail = lb.t("ledger.verification.police_report", text=str(data.get("police_report") or ""))
    elif kind == "cleared":
        detail = lb.t("ledger.verification.proof", text=str(data.get("proof") or ""))
    else:
        detail = str(data.get("note") or "")
    return lb.t("ledger.with_detail", label=head, detail=detail) if detail else head
