"""Step counters: every walk through every form counts its questions 1/N, 2/N, … N/N without a jump,
and a total shown early is never exceeded later (conditional questions not yet decided count as asked)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, cast

import pytest

from bot.conversations import absence, return_, rollcall, visit
from bot.conversations.form import PRESETS, Form
from bot.conversations.model import FormContext
from bot.conversations.visit_steps import NOTICE_ALLOWED, PRESET
from domain.casework import visits
from domain.casework.returns import CONFIRMATION_METHODS
from i18n import t

Answers = dict[str, Any]


def walk(form: Form, start: Answers, values: Answers) -> tuple[list[tuple[int, int]], list[str]]:
    """Answers each question in turn (from `values`, else "x") until the summary; returns the counters
    shown and the keys asked."""
    answers = dict(start)
    step = form.first(answers)
    shown: list[tuple[int, int]] = []
    asked: list[str] = []
    while step is not form.confirm:
        place = form.counter(step, answers)
        assert place is not None, f"{form.name}.{step.key} shows no counter"
        shown.append(place)
        asked.append(step.key)
        answers[step.key] = values.get(step.key, "x")
        if step.key == "outcome":  # worked out by the outcome step from the case and the policy
            answers[NOTICE_ALLOWED] = values[NOTICE_ALLOWED]
        step = form.after(step.key, answers)
    assert form.counter(form.confirm, answers) is None  # the summary is no question
    return shown, asked


def branches(options: dict[str, list[Any]]) -> list[Answers]:
    return [dict(zip(options, combo, strict=True)) for combo in itertools.product(*options.values())]


PRESET_CASE = {"case": "1", PRESET: True, PRESETS: ["case"]}
WALKS: dict[str, tuple[Form, list[Answers], list[Answers]]] = {
    "report": (absence.FORM, [{}], [{}]),
    "rollcall": (rollcall.FORM, [{}, {"class": "1", PRESETS: ["class"]}], [{}]),
    "return": (
        return_.FORM,
        [{}, {"case": "1", PRESETS: ["case"]}],
        branches({"method": list(CONFIRMATION_METHODS), "same_place": [return_.SAME, return_.DIFFERENT]}),
    ),
    "visit": (
        visit.FORM,
        [{}, PRESET_CASE],
        branches(
            {
                "mode": list(visits.MODES),
                "outcome": list(visits.OUTCOMES),
                NOTICE_ALLOWED: [True, False],
                "location": [None, {"lat": 29.5, "lon": 106.5}],
            }
        ),
    ),
}


@pytest.mark.parametrize("name", list(WALKS))
def test_counters_are_consecutive_never_exceed_their_total_and_end_at_n_of_n(name: str) -> None:
    form, starts, scripts = WALKS[name]
    asked_somewhere: set[str] = set()
    for start, values in itertools.product(starts, scripts):
        shown, asked = walk(form, start, values)
        asked_somewhere.update(asked)
        where = f"{name} from {start} with {values}: {shown}"
        assert [n for n, _ in shown] == list(range(1, len(shown) + 1)), where
        totals = [total for _, total in shown]
        assert totals == sorted(totals, reverse=True), where  # a total may drop, never grow
        assert all(n <= total for n, total in shown), where
        assert shown[-1][0] == shown[-1][1], where  # the last question is N/N
    assert asked_somewhere == {s.key for s in form.steps}  # every branch was walked


def test_a_preset_answer_is_not_counted() -> None:
    shown, asked = walk(rollcall.FORM, {"class": "1", PRESETS: ["class"]}, {})
    assert (shown, asked) == ([(1, 1)], ["absent"])
    shown, _ = walk(
        visit.FORM, PRESET_CASE, {"mode": "phone", "outcome": "unreachable", NOTICE_ALLOWED: False}
    )
    # Until the mode and the outcome are known, a location, its reason, an outcome's follow-up and the
    # notice may still be asked; a phone call that reached nobody then asks 8 questions in all.
    assert shown[0] == (1, 12) and shown[-1] == (8, 8)


def test_a_phone_visit_counts_fewer_questions_than_a_home_visit() -> None:
    home, _ = walk(
        visit.FORM, {}, {"mode": "home", "outcome": "refused", NOTICE_ALLOWED: True, "location": None}
    )
    phone, _ = walk(visit.FORM, {}, {"mode": "phone", "outcome": "refused", NOTICE_ALLOWED: False})
    assert home[-1] == (12, 12) and phone[-1] == (9, 9)


@dataclass
class FakeContext:
    language: str

    def t(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)


@pytest.mark.parametrize(("language", "head"), [("zh_CN", "（5/5）补充说明"), ("en", "(5/5) A note")])
async def test_the_prompt_is_headed_by_its_counter(language: str, head: str) -> None:
    answers: Answers = {"student": "1", "absent_since": "2026-10-12", "reason": "A2", "flags": []}
    ctx = cast(FormContext, FakeContext(language))
    prompt = await absence.FORM.ask(ctx, absence.FORM.step("note"), answers)
    assert prompt.text.startswith(head)


def test_a_question_added_since_a_draft_was_saved_is_asked_before_the_summary() -> None:
    """A visit draft from before the mode question: the form asks it rather than submit without it."""
    answers: Answers = {"case": "1", "visited_on": "2026-10-13", "visitors": [], "met": "guardian"}
    answers |= {"outcome": "unreachable", NOTICE_ALLOWED: False, "photos": [1], "location": None}
    answers |= {"no_location_reason": "x", "next_follow_up_on": None}
    assert visit.FORM.after("note", {**answers, "note": None}).key == "mode"
