"""The conversation engine walks a form over in-memory drafts: start, answer, change an answer, a stale
double tap, cancel, submit and its receipt, and a draft that outlives the process that wrote it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from bot.conversations.engine import KEEP_RECEIPT, Conversations, Outcome
from bot.conversations.form import Form
from bot.conversations.model import Answers, Choice, Command, FormContext, Input, Submitted, Tap, Text
from bot.conversations.ports import Drafts, FormServices
from bot.conversations.steps import NAV_PREFIX, ChoiceStep, TextStep
from domain.audit import Actor
from domain.people.roles import Role
from storage.models import Staff
from storage.scope import Scope
from storage.uow import UnitOfWork
from tests.unit.fake_forms import DraftTable, FakeDraft, FakeDrafts, FakeServices, FakeUnitOfWork

CHAT = 7001
NOW = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)


async def reasons(ctx: FormContext, answers: Answers) -> list[Choice]:
    return [Choice("ill", "Ill"), Choice("work", "Gone to work")]


def tiny_form(saved: list[Answers]) -> Form:
    """Two questions and the summary; submit keeps the answers in `saved`."""

    async def submit(ctx: FormContext, answers: Answers) -> Submitted:
        saved.append(answers)
        return Submitted("Saved as 2026-001.", "2026-001")

    return Form(
        name="report",  # borrows the absence form's catalog keys (labels and prompts)
        roles=frozenset({Role.CLASS_TEACHER}),
        steps=[
            ChoiceStep("reason", "report.ask_reason", reasons),
            TextStep("note", "report.ask_note", optional=True),
        ],
        submit=submit,
    )


def teacher(staff_id: int = 1) -> Staff:
    return Staff(id=staff_id, name="李老师", role=Role.CLASS_TEACHER.value)


class Chat:
    """One person talking to the engine: every input is one unit of work, committed as an update is."""

    def __init__(self, table: DraftTable, staff: Staff | None = None) -> None:
        self.table = table
        self.staff = staff or teacher()
        self.saved: list[Answers] = []
        self.engine = Conversations([tiny_form(self.saved)])
        self.now = NOW

    async def send(self, given: Input, *, commit: bool = True) -> Outcome:
        uow = FakeUnitOfWork(self.table)
        ctx = FormContext(
            uow=cast(UnitOfWork, uow),
            services=FakeServices(),
            staff=self.staff,
            scope=Scope(self.staff.id),
            actor=Actor(self.staff.id, f"test:{CHAT}"),
            language="en",
            now=self.now,
        )
        outcome = await self.engine.handle(ctx, CHAT, given)
        if commit:
            await uow.commit()
        return outcome

    async def tap(self, value: str, seq: int | None = None) -> Outcome:
        """A button of the current step (or, with `seq`, of an older message)."""
        return await self.send(Tap(self.draft.seq if seq is None else seq, value))

    @property
    def draft(self) -> FakeDraft:
        return self.table[CHAT]


def values(outcome: Outcome) -> list[str]:
    """What the last prompt's buttons would send."""
    return [c.value for row in outcome.prompts[-1].buttons for c in row]


@pytest.fixture
def chat() -> Chat:
    return Chat({})


async def test_the_command_starts_the_form_at_its_first_question(chat: Chat) -> None:
    outcome = await chat.send(Command("report"))
    assert (chat.draft.form, chat.draft.step, chat.draft.answers) == ("report", "reason", {})
    assert values(outcome) == ["ill", "work"]
    assert outcome.seq == chat.draft.seq


async def test_each_answer_is_saved_with_the_next_step_and_a_new_seq(chat: Chat) -> None:
    started = await chat.send(Command("report"))
    answered = await chat.tap("ill")
    assert (chat.draft.step, chat.draft.answers) == ("note", {"reason": "ill"})
    assert answered.seq == chat.draft.seq > started.seq
    await chat.send(Text("Fever since Monday"))
    assert chat.draft.step == "confirm"
    assert chat.draft.answers == {"reason": "ill", "note": "Fever since Monday"}


async def test_a_refused_answer_asks_again_and_saves_nothing(chat: Chat) -> None:
    await chat.send(Command("report"))
    seq = chat.draft.seq
    outcome = await chat.tap("forged")
    assert (chat.draft.step, chat.draft.seq) == ("reason", seq)
    assert values(outcome) == ["ill", "work"]


async def test_an_answer_changed_from_the_summary_goes_back_to_its_question_then_to_the_summary(
    chat: Chat,
) -> None:
    await chat.send(Command("report"))
    await chat.tap("ill")
    await chat.tap(f"{NAV_PREFIX}skip")
    which = await chat.tap(f"{NAV_PREFIX}change")
    assert values(which) == [f"{NAV_PREFIX}edit:reason", f"{NAV_PREFIX}edit:note"]
    again = await chat.tap(f"{NAV_PREFIX}edit:reason")
    assert chat.draft.step == "reason" and values(again) == ["ill", "work"]
    await chat.tap("work")
    assert chat.draft.step == "confirm"
    assert chat.draft.answers == {"reason": "work", "note": None}


async def test_a_double_tap_on_an_older_button_changes_nothing(chat: Chat) -> None:
    await chat.send(Command("report"))
    old = chat.draft.seq
    await chat.tap("ill", seq=old)
    saved = (chat.draft.step, dict(chat.draft.answers), chat.draft.seq)
    second = await chat.tap("work", seq=old)
    assert (chat.draft.step, chat.draft.answers, chat.draft.seq) == saved
    assert second.seq == chat.draft.seq and second.toast and second.in_place
    assert values(second) == [f"{NAV_PREFIX}skip"]  # where the form stands: the note


async def test_cancel_by_command_or_button_drops_the_draft(chat: Chat) -> None:
    await chat.send(Command("report"))
    await chat.send(Command("cancel"))
    assert CHAT not in chat.table
    await chat.send(Command("report"))
    await chat.tap("ill")
    await chat.tap(f"{NAV_PREFIX}skip")
    await chat.tap(f"{NAV_PREFIX}cancel")
    assert CHAT not in chat.table and chat.saved == []


async def test_a_new_command_discards_the_form_in_progress(chat: Chat) -> None:
    await chat.send(Command("report"))
    await chat.tap("ill")
    outcome = await chat.send(Command("report"))
    assert len(outcome.prompts) == 2  # "the previous form was discarded", then the first question
    assert (chat.draft.step, chat.draft.answers) == ("reason", {})


async def test_submit_keeps_a_receipt_that_a_later_tap_shows_until_it_was_delivered(chat: Chat) -> None:
    await chat.send(Command("report"))
    await chat.tap("ill")
    await chat.send(Text("Fever"))
    submit_seq = chat.draft.seq
    submitted = await chat.tap(f"{NAV_PREFIX}submit")
    assert submitted.submitted and submitted.confirms
    assert chat.saved == [{"reason": "ill", "note": "Fever"}]
    assert chat.draft.answers == {} and chat.draft.receipt == {
        "text": "Saved as 2026-001.",
        "case": "2026-001",
        "delivered": False,
    }

    lost_reply = await chat.tap(f"{NAV_PREFIX}submit", seq=submit_seq)  # the confirmation never arrived
    assert lost_reply.confirms and lost_reply.prompts[0].text == "Saved as 2026-001."
    assert len(chat.saved) == 1  # shown again, not submitted again

    uow = FakeUnitOfWork(chat.table)
    await uow.drafts.mark_delivered(CHAT)
    await uow.commit()
    delivered = await chat.tap(f"{NAV_PREFIX}submit", seq=submit_seq)
    assert delivered.prompts == [] and delivered.toast and not delivered.confirms


async def test_an_old_receipt_makes_way_for_the_next_form_and_expires(chat: Chat) -> None:
    await chat.send(Command("report"))
    await chat.tap("ill")
    await chat.tap(f"{NAV_PREFIX}skip")
    await chat.tap(f"{NAV_PREFIX}submit")
    chat.now = NOW + KEEP_RECEIPT + timedelta(minutes=1)
    expired = await chat.tap(f"{NAV_PREFIX}submit", seq=1)
    assert expired.prompts == [] and expired.toast
    await chat.send(Command("report"))
    assert chat.draft.receipt is None and chat.draft.step == "reason"


async def test_a_draft_outlives_the_process_that_wrote_it(chat: Chat) -> None:
    await chat.send(Command("report"))
    await chat.tap("ill")
    await chat.send(Text("Fever"), commit=False)  # killed before the commit: this answer is lost

    restarted = Chat(chat.table)  # a new process: a new engine, the same stored drafts
    assert restarted.draft.step == "note"
    await restarted.send(Text("Fever"))
    submitted = await restarted.tap(f"{NAV_PREFIX}submit")
    assert submitted.submitted and restarted.saved == [{"reason": "ill", "note": "Fever"}]


async def test_a_chat_bound_to_someone_else_starts_clean(chat: Chat) -> None:
    await chat.send(Command("report"))
    await chat.tap("ill")
    newcomer = Chat(chat.table, teacher(staff_id=2))
    outcome = await newcomer.tap("work", seq=chat.draft.seq)
    assert CHAT not in chat.table and outcome.prompts == [] and outcome.toast


def test_the_fakes_fill_the_forms_ports() -> None:
    """Checked by mypy: the engine's tests stand on the same protocols as the real adapters."""
    drafts: Drafts = FakeDrafts({})
    services: FormServices = FakeServices()
    assert drafts is not None and services.tz.key == "Asia/Shanghai"
