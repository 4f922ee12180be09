"""The /visit form's own steps: a change of case, of mode or of whom was met re-asks what it rules out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.conversations.evidence import PHOTOS
from bot.conversations.labels import case_label
from bot.conversations.model import Answers, Choice, FormContext, Input, Reask, Unsupported
from bot.conversations.steps import ChoiceStep, MultiChoiceStep, PhotosStep
from domain.casework.lifecycle import VISITABLE
from domain.casework.visits import IN_PERSON, earlier_visits, eligible_visitors, notice_allowed, outcomes_for
from domain.people.roles import ROLE_LABELS, Role

PRESET = "_preset"  # the case came with the command (a "go:visit:<id>" button): not asked, not editable
NOTICE_ALLOWED = "_notice_allowed"  # whether the notice may be served: worked out when the outcome is given


async def visitable_cases(ctx: FormContext, answers: Answers) -> list[Choice]:
    """Open cases in the visitor's scope that a visit can move on, oldest first."""
    cases = [c for c in await ctx.uow.cases.open_in_scope(ctx.scope) if c.status in VISITABLE]
    return [Choice(str(c.id), await case_label(ctx, c)) for c in cases]


async def outcome_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    """Nobody met: nobody agreed and nobody refused, so those outcomes are not offered."""
    return [Choice(o, ctx.t(f"visit.outcome.{o}")) for o in outcomes_for(answers.get("met"))]


async def refresh_notice(ctx: FormContext, answers: Answers) -> None:
    """Works out whether the notice may be served with the outcome and mode given (the domain's rule,
    so the form never offers what the submit would refuse); an answer it now rules out is dropped."""
    case = await ctx.uow.cases.get(int(answers["case"])) if "outcome" in answers else None
    allowed = case is not None and notice_allowed(
        case.status,
        answers["outcome"],
        mode=answers.get("mode", "home"),
        earlier_visits=await earlier_visits(ctx.uow, case),
        min_prior_visits=ctx.services.policy.steps.notice_min_prior_visits,
    )
    answers[NOTICE_ALLOWED] = allowed
    if not allowed:
        answers.pop("notice", None)


@dataclass
class CaseStep(ChoiceStep):
    """Choosing another case makes every later answer (and the photos) meaningless: ask them again."""

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        before = answers.get(self.key)
        await super().receive(ctx, answers, given)
        if before is not None and answers[self.key] != before:
            for key in [k for k in answers if k != self.key and k not in ("_page", "_search")]:
                del answers[key]


@dataclass
class ModeStep(ChoiceStep):
    """In person needs photos (skipped ones are asked again) and rules the notice in or out."""

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        await super().receive(ctx, answers, given)
        if answers[self.key] in IN_PERSON and not answers.get(PHOTOS):
            answers.pop(PHOTOS, None)
        await refresh_notice(ctx, answers)


@dataclass
class MetStep(ChoiceStep):
    """Changed to "nobody": an outcome that needs someone met is asked again."""

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        await super().receive(ctx, answers, given)
        if "outcome" in answers and answers["outcome"] not in outcomes_for(answers[self.key]):
            del answers["outcome"]
            await refresh_notice(ctx, answers)


@dataclass
class OutcomeStep(ChoiceStep):
    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        await super().receive(ctx, answers, given)
        await refresh_notice(ctx, answers)


async def colleagues(ctx: FormContext, answers: Answers) -> list[Choice]:
    """Who may have come along (names are fine for staff); the visitor is always included."""
    case = await ctx.uow.cases.get(int(answers["case"]))
    index = 0 if ctx.language == "zh_CN" else 1
    people = await eligible_visitors(ctx.uow, case) if case else []
    return [
        Choice(str(s.id), f"{s.name}（{ROLE_LABELS[Role(s.role)][index]}）")
        for s in people
        if s.id != ctx.staff.id
    ]


@dataclass
class VisitorsStep(MultiChoiceStep):
    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        chosen = set(answers.get(self.key) or [])
        return "、".join(
            [ctx.t("visit.me")] + [c.label for c in await colleagues(ctx, answers) if c.value in chosen]
        )


@dataclass
class VisitPhotos(PhotosStep):
    """At least one photo when the visit was in person; a phone or video call may skip them."""

    def needed(self, answers: Answers) -> int:
        return self.minimum if answers.get("mode") in IN_PERSON else 0

    def text_key(self, answers: Answers) -> str:
        return self.prompt_key if answers.get("mode") in IN_PERSON else "visit.ask_photos_optional"

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if isinstance(given, Unsupported) and given.kind == "document":  # a PDF, a text file, ...
            raise Reask("visit.photo_not_an_image")
        await super().receive(ctx, answers, given)


async def first_absence(ctx: FormContext, answers: Answers) -> date | None:
    case = await ctx.uow.cases.get(int(answers["case"]))
    return case.first_absent_on if case else None


async def visit_day(ctx: FormContext, answers: Answers) -> date | None:
    return date.fromisoformat(answers["visited_on"])


async def follow_up_earliest(ctx: FormContext, answers: Answers) -> date | None:
    """The next follow-up comes after the visit, and not in the past."""
    today = ctx.now.astimezone(ctx.tz).date()
    return max(date.fromisoformat(answers["visited_on"]) + timedelta(days=1), today)
