"""Every refusal code a form's domain use case raises has its own message in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.conversations import absence, return_, visit
from i18n.catalog import LANGUAGES, keys

ROOT = Path(__file__).resolve().parents[2]
DATES = (
    "date_in_future",
    "date_too_old",
)  # domain.casework.cases.check_past_date, used by every use case here


def codes_raised_in(module: str) -> set[str]:
    """The codes of every InvalidInput the module raises."""
    return set(re.findall(r'InvalidInput\(\s*"([a-z_]+)"', (ROOT / module).read_text()))


@pytest.mark.parametrize(
    ("refusals", "module"),
    [
        (visit.REFUSALS, "domain/casework/visits.py"),
        (return_.REFUSALS, "domain/casework/returns.py"),
        (absence.REFUSALS, "domain/casework/cases.py"),
    ],
    ids=["visit", "return", "report"],
)
def test_every_refusal_code_maps_to_a_message_in_both_languages(
    refusals: dict[str, str], module: str
) -> None:
    raised = codes_raised_in(module) | set(DATES)
    assert raised, module
    assert sorted(raised - set(refusals)) == [], f"refusal codes of {module} without a message"
    for language in LANGUAGES:
        missing = sorted({refusals[c] for c in raised} - keys(language))
        assert missing == [], f"{language} catalog lacks {missing}"
