"""domain.people.language: one order of precedence for the language a person is addressed in."""

from __future__ import annotations

import pytest

from domain.people.language import catalog_language, choose, language_of, remember_reported
from storage.models import Staff


def person(chosen: str | None = None, remembered: str | None = None) -> Staff:
    return Staff(name="t", phone="13800000000", role="teacher", language=chosen, reported_language=remembered)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en", "en"), ("en-US", "en"), ("zh-hans", "zh_CN"), ("zh_CN", "zh_CN"), ("ZH-hant", "zh_CN")]
    + [("fr", None), ("", None), (None, None)],
)
def test_client_codes_map_to_catalog_languages(code: str | None, expected: str | None) -> None:
    assert catalog_language(code) == expected


def test_the_persons_choice_wins_over_everything() -> None:
    assert language_of(person("zh_CN", "en"), reported="en-US", default="en") == "zh_CN"
    assert language_of(person("en", "zh_CN"), reported="zh-hans", default="zh_CN") == "en"


def test_without_a_choice_the_client_speaking_now_wins_over_the_one_remembered() -> None:
    assert language_of(person(None, "zh_CN"), reported="en", default="zh_CN") == "en"


def test_without_a_choice_or_a_client_the_remembered_phone_decides() -> None:
    """The bug of issue 14: an English phone that never used /language gets English reminders."""
    assert language_of(person(None, "en"), default="zh_CN") == "en"


def test_otherwise_the_deployment_default() -> None:
    assert language_of(person(), default="en") == "en"
    assert language_of(None, reported="fr", default="zh_CN") == "zh_CN"
    assert language_of(None, default="xx") == "zh_CN"  # a default the catalog lacks: Chinese


def test_an_unknown_client_language_is_not_remembered_and_a_known_one_replaces_the_old() -> None:
    staff = person(None, "en")
    remember_reported(staff, "fr")
    assert staff.reported_language == "en"
    remember_reported(staff, "zh-hans")
    assert staff.reported_language == "zh_CN"


def test_only_catalog_languages_can_be_chosen() -> None:
    staff = person("zh_CN")
    assert not choose(staff, "fr") and staff.language == "zh_CN"
    assert choose(staff, "en") and staff.language == "en"
