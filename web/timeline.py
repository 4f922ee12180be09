"""A timeline entry's details as the case page shows them: labelled from the catalogs, values translated,
people named, internal ids and keys never shown. A data key without a label is not shown at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.casework.casefile import TimelineEntry
from domain.people.roles import ROLE_LABELS, Role
from i18n import t
from storage.models import Code

# Ids and technical bookkeeping: the entry itself says what happened.
HIDDEN = frozenset(
    {
        "location",
        "attachments",
        "attachment_ids",
        "visitors",
        "visit_event",
        "reminder_id",
        "new_reminder_id",
        "digest_id",
        "message_id",
        "escalation_id",
        "origin",
        "snoozed_from",
        "base",
        "anchor",
    }
)
# Keys whose values are codes with a catalog label: key -> catalog prefix.
_ENUMS = {
    "outcome": "ledger.outcome.",
    "met": "ledger.met.",
    "method": "return.method.",
    "mode": "web.value.mode.",
    "step": "step.",
    "reminder_kind": "web.reminder.",
    "reason": "web.value.reason.",
    "reported_to": "web.value.reported_to.",
    "crosscheck_reason": "web.value.crosscheck_reason.",
}
_PEOPLE = frozenset({"recipient_id", "from", "to", "told_instead"})  # staff ids, shown as names
_CODES = ("reason_code", "code")
OFFICIAL_SCHEMES = ("record_system", "verification_2019")  # official codes: "A2 厌学辍学"
_CODE_LISTS = ("flags", "added", "removed", "support_measures")


def _try(language: str, key: str, fallback: str) -> str:
    try:
        return t(language, key)
    except KeyError:
        return fallback


class EventDetails:
    """Formats the data of timeline entries for one page (language, time zone, code labels)."""

    def __init__(self, language: str, tz: ZoneInfo, codes: dict[str, Code]) -> None:
        self.language, self.tz, self.codes = language, tz, codes

    def label(self, key: str) -> str | None:
        return _try(self.language, f"web.data.{key}", "") or None

    def code(self, value: object) -> str:
        found = self.codes.get(str(value))
        if found is None:
            return str(value)
        label = found.label_en if self.language == "en" else found.label_zh
        # Official codes are shown with their letter (A2, G); flags and measures by their label only.
        return f"{found.code} {label}" if found.scheme in OFFICIAL_SCHEMES else label

    def source(self, item: object) -> str:
        """A cross-check's "list#row" (population#12) as "户籍名单 第12行"-like text; "roster" alone."""
        source, _, row = str(item).partition("#")
        label = _try(self.language, f"crosscheck.source.{source}", source)
        return f"{label} #{row}" if row else label

    def value(self, key: str, value: Any, entry: TimelineEntry) -> str:
        if key == "lists" and isinstance(value, list):
            return "、".join(self.source(item) for item in value)
        if isinstance(value, bool):
            return t(self.language, "ledger.yes" if value else "ledger.no")
        if key in _PEOPLE and not isinstance(value, list):
            return entry.people.get(value, "—") if isinstance(value, int) else str(value)
        if isinstance(value, list):
            return "、".join(self.value(key, item, entry) for item in value)
        if isinstance(value, dict):
            return self.code(value.get("code") or "—")
        if key in _CODES or key in _CODE_LISTS:
            return self.code(value)
        if key == "level":
            try:
                zh, en = ROLE_LABELS[Role(value)]
            except ValueError:
                return str(value)
            return en if self.language == "en" else zh
        if key in _ENUMS:
            return _try(self.language, f"{_ENUMS[key]}{value}", str(value))
        if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":  # an ISO moment
            try:
                return datetime.fromisoformat(value).astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
            except ValueError:
                return value
        return str(value)

    def rows(self, entry: TimelineEntry) -> list[tuple[str, str]]:
        """(label, text) pairs of the entry's data worth showing."""
        found = []
        for key, value in entry.data.items():
            if key in HIDDEN or value in (None, "", [], {}) or value is False and key != "ok":
                continue
            label = self.label(key)
            if label is not None:
                found.append((label, self.value(key, value, entry)))
        return found
