"""/visit — home visit: case, date, who went, whom we met, outcome, notice, photos, location, note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.conversations.evidence import PHOTOS, apply_restamped, restamp_photos, store_photo
from bot.conversations.form import Form
from bot.conversations.labels import case_label, local_date, status_label
from bot.conversations.model import Answers, Choice, FormContext, Input, Reask, Unsupported
from bot.conversations.steps import (
    ChoicesProvider,
    ChoiceStep,
    DateStep,
    LocationStep,
    MultiChoiceStep,
    PhotosStep,
    TextStep,
)
from domain import visits
from domain.audit import audit
from domain.cases import case_in_scope
from domain.errors import InvalidInput, InvalidTransition, NotInScope
from domain.lifecycle import VISITABLE
from domain.roles import ROLE_LABELS, Role
from domain.visits import VisitReport, eligible_visitors, notice_allowed, record_visit

PRESET = "_preset"  # the case came with the command (a "go:visit:<id>" button): not asked, not editable


async def visitable_cases(ctx: FormContext, answers: Answers) -> list[Choice]:
    """Open cases in the visitor's scope that a visit can move on, oldest first."""
    cases = [c for c in await ctx.uow.cases.open_in_scope(ctx.scope) if c.status in VISITABLE]
    return [Choice(str(c.id), await case_label(ctx, c)) for c in cases]


async def refuse_case(ctx: FormContext, value: str) -> None:
    """A case id that was not offered (stale or forged callback data) is logged."""
    audit(ctx.uow, ctx.actor, ctx.now, "denied", "case", value[:20], via="telegram_button")


@dataclass
class CaseStep(ChoiceStep):
    """Choosing another case makes every later answer (and the photos) meaningless: ask them again."""

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        before = answers.get(self.key)
        await super().receive(ctx, answers, given)
        if before is not None and answers[self.key] != before:
            for key in [k for k in answers if k != self.key and k not in ("_page", "_search")]:
                del answers[key]


async def first_absence(ctx: FormContext, answers: Answers) -> date | None:
    case = await ctx.uow.cases.get(int(answers["case"]))
    return case.first_absent_on if case else None


async def visit_day(ctx: FormContext, answers: Answers) -> date | None:
    return date.fromisoformat(answers["visited_on"])


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


def _fixed(prefix: str, values: tuple[str, ...]) -> ChoicesProvider:
    """Choices from a fixed list of codes, labelled from the catalog."""

    async def choices(ctx: FormContext, answers: Answers) -> list[Choice]:
        return [Choice(v, ctx.t(f"{prefix}.{v}")) for v in values]

    return choices


async def notice_possible(ctx: FormContext, answers: Answers) -> bool:
    case = await ctx.uow.cases.get(int(answers["case"]))
    return case is not None and notice_allowed(case.status, answers["outcome"])


@dataclass
class OutcomeStep(ChoiceStep):
    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        await super().receive(ctx, answers, given)
        if answers.get("notice") == "yes" and not await notice_possible(ctx, answers):
            del answers["notice"]  # the new outcome rules the notice out: ask again


@dataclass
class NoticeStep(ChoiceStep):
    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        await super().receive(ctx, answers, given)
        if answers[self.key] == "yes" and not await notice_possible(ctx, answers):
            case = await ctx.uow.cases.get(int(answers["case"]))
            raise Reask(
                "visit.notice_not_allowed", status=status_label(ctx, case.status if case else "closed")
            )


@dataclass
class PromiseStep(DateStep):
    """The promised return date: may lie ahead, but not beyond visits.PROMISE_HORIZON."""

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        await super().receive(ctx, answers, given)
        if date.fromisoformat(answers[self.key]) > ctx.now.astimezone(ctx.tz).date() + visits.PROMISE_HORIZON:
            raise Reask("visit.promise_too_far", days=visits.PROMISE_HORIZON.days)


@dataclass
class VisitPhotos(PhotosStep):
    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if isinstance(given, Unsupported) and given.kind == "document":  # a PDF, a text file, ...
            raise Reask("visit.photo_not_an_image")
        await super().receive(ctx, answers, given)


async def begin(ctx: FormContext, answers: Answers, args: tuple[str, ...]) -> None:
    """`/visit <case id>` or a "go:visit:<id>" button: the case is preset, if the visitor may act on it."""
    if not args:
        return
    if not (args[0].isdigit() and len(args[0]) <= 9):
        raise Reask("visit.case_not_available")
    try:
        case = await case_in_scope(ctx.uow, ctx.scope, ctx.actor, int(args[0]), ctx.now)
    except NotInScope:
        raise Reask("visit.case_not_available") from None
    if case.status not in VISITABLE:
        raise Reask("visit.case_not_visitable", number=case.number, status=status_label(ctx, case.status))
    answers.update({"case": str(case.id), PRESET: True})


async def submit(ctx: FormContext, answers: Answers) -> str:
    applies = {s.key: s.applies(answers) for s in FORM.steps}
    location = answers.get("location")
    report = VisitReport(
        case_id=int(answers["case"]),
        visited_on=date.fromisoformat(answers["visited_on"]),
        met=answers["met"],
        outcome=answers["outcome"],
        visitors=[int(v) for v in answers.get("visitors") or []],
        promised_return_on=date.fromisoformat(answers["promised_on"]) if applies["promised_on"] else None,
        other_school=answers.get("other_school") if applies["other_school"] else None,
        outcome_detail=answers.get("outcome_detail") if applies["outcome_detail"] else None,
        notice_served=answers.get("notice") == "yes",
        location=(location["lat"], location["lon"]) if location else None,
        no_location_reason=None if location else answers.get("no_location_reason"),
        note=answers.get("note"),
        attachment_ids=list(answers.get(PHOTOS) or []),
    )
    case = await ctx.uow.cases.in_scope(ctx.scope, report.case_id)
    restamped = await restamp_photos(ctx, answers, case, report.attachment_ids) if case else {}
    try:
        await record_visit(
            ctx.uow, ctx.scope, ctx.actor, report, now=ctx.now, policy=ctx.services.policy, tz=ctx.tz
        )
    except NotInScope:
        raise Reask("visit.case_not_available") from None
    except InvalidTransition:
        raise Reask("visit.not_allowed_now") from None
    except InvalidInput as exc:
        raise Reask("visit.not_saved", code=exc.code) from None
    assert case is not None
    await apply_restamped(ctx, restamped)
    lines = [
        ctx.t(
            "visit.submitted",
            number=case.number,
            status=status_label(ctx, case.status),
            photos=len(report.attachment_ids),
        )
    ]
    if report.notice_served:
        lines.append(ctx.t("visit.submitted_notice", return_due=local_date(ctx, case.return_due_at)))
    if report.promised_return_on:
        lines.append(ctx.t("visit.submitted_promise", promised=report.promised_return_on.isoformat()))
    return "\n".join(lines)


class VisitForm(Form):
    async def summary_lines(self, ctx: FormContext, answers: Answers) -> list[str]:
        """A preset case is not a question, but the summary still names it."""
        lines = await super().summary_lines(ctx, answers)
        case = await ctx.uow.cases.get(int(answers["case"])) if answers.get(PRESET) else None
        if case is not None:
            lines.insert(0, f"{ctx.t('visit.case.label')}：{await case_label(ctx, case)}")
        return lines


_promise = PromiseStep(
    "promised_on",
    "visit.ask_promised_on",
    not_before=visit_day,
    allow_future=True,
    when=lambda a: a.get("outcome") == visits.AGREED,
)
_school = TextStep(
    "other_school",
    "visit.ask_other_school",
    optional=False,
    max_length=100,
    when=lambda a: a.get("outcome") == visits.ELSEWHERE,
)
_detail = TextStep(
    "outcome_detail",
    "visit.ask_outcome_detail",
    optional=False,
    max_length=500,
    when=lambda a: a.get("outcome") == visits.OTHER,
)
_notice = NoticeStep("notice", "visit.ask_notice", _fixed("visit.notice", ("yes", "no")), columns=2)
_why_no_location = TextStep(
    "no_location_reason",
    "visit.ask_no_location_reason",
    optional=False,
    max_length=200,
    when=lambda a: "location" in a and a["location"] is None,
)

FORM = VisitForm(
    name="visit",
    roles=frozenset(
        {Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.PRINCIPAL, Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER}
    ),
    steps=[
        CaseStep(
            "case",
            "visit.ask_case",
            visitable_cases,
            columns=1,
            empty_key="visit.no_cases",
            on_refused=refuse_case,
            when=lambda a: not a.get(PRESET),
        ),
        DateStep("visited_on", "visit.ask_date", not_before=first_absence),
        VisitorsStep("visitors", "visit.ask_visitors", colleagues, columns=1),
        ChoiceStep("met", "visit.ask_met", _fixed("visit.met", visits.MET), columns=2),
        OutcomeStep("outcome", "visit.ask_outcome", _fixed("visit.outcome", visits.OUTCOMES), columns=2),
        _promise,
        _school,
        _detail,
        _notice,
        VisitPhotos(PHOTOS, "visit.ask_photos", store=store_photo, minimum=1, maximum=visits.MAX_PHOTOS),
        LocationStep("location", "visit.ask_location"),
        _why_no_location,
        TextStep("note", "visit.ask_note", optional=True, max_length=500),
    ],
    submit=submit,
    begin=begin,
)
