"""The one rule for the language a person is addressed in, whatever the channel (chat replies, reminders,
digests, monthly reports and reviews, the dashboard).

In order of precedence:
1. the person's own choice (`Staff.language`): one stored preference, set by the language menu of the
   chat or the dashboard's language switch, so a choice made in one channel holds in every other;
2. what the person's client says now: the language of the phone sending this message, or of the
   browser (its language cookie) when logging in to the dashboard;
3. what their chat client said before (`Staff.reported_language`, remembered on every contact), so
   that messages sent while the person is not talking (reminders, reports) follow their phone too;
4. the deployment's DEFAULT_LANGUAGE.
The roster carries no language column, so there is no administrator-set step in between.
"""

from __future__ import annotations

from i18n import DEFAULT_LANGUAGE, LANGUAGES
from storage.models import Staff


def catalog_language(code: str | None) -> str | None:
    """The catalog language a client's code stands for (en-US → en, zh-hans → zh_CN), None when the
    code is missing or names a language the catalog does not have."""
    if not code:
        return None
    c = code.strip().lower().replace("-", "_")
    if c.startswith("en"):
        return "en"
    if c.startswith("zh"):
        return "zh_CN"
    return None


def language_of(
    staff: Staff | None,
    *,
    default: str,
    reported: str | None = None,
) -> str:
    """The language to address `staff` (None: someone not known yet) in; `reported` is what their client
    says now (a client's code or a catalog language), `default` the deployment's."""
    for candidate in (
        staff.language if staff is not None else None,
        reported,
        staff.reported_language if staff is not None else None,
        default,
    ):
        if (found := catalog_language(candidate)) in LANGUAGES:
            return str(found)
    return DEFAULT_LANGUAGE


def remember_reported(staff: Staff, code: str | None) -> None:
    """Keeps the language the person's chat client reports (a known one only; the caller commits), for
    what is sent to them later when they are not talking."""
    found = catalog_language(code)
    if found is not None and staff.reported_language != found:
        staff.reported_language = found


def choose(staff: Staff, language: str) -> bool:
    """Stores the person's explicit choice; False (nothing changed) for a language the catalog lacks."""
    if language not in LANGUAGES:
        return False
    staff.language = language
    return True
