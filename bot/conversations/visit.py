"""/visit — a persuasion visit: case, date, how (home, phone, video, at school), who went, whom we met,
outcome and its follow-up, notice, photos, location (home visits), next follow-up date, note."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.conversations.evidence import PHOTOS, restamp_photos, store_photo
from bot.conversations.form import Form
from bot.conversations.labels import case_label, local_date, status_label
from bot.conversations.model import Answers, FormContext, Reask, Submitted
from bot.conversations.steps import NOTE_IDENTIFIERS, ChoiceStep, DateStep, LocationStep, TextStep, fixed
from bot.conversations.visit_steps import (
    NOTICE_ALLOWED,
    PRESET,
    CaseStep,
    MetStep,
    ModeStep,
    OutcomeStep,
    VisitorsStep,
    VisitPhotos,
    colleagues,
    first_absence,
    follow_up_earliest,
    outcome_choices,
    visit_day,
    visitable_cases,
)
from domain.audit import audit
from domain.casework import visits
from domain.casework.cases import case_in_scope
from domain.casework.lifecycle import VISITABLE
from domain.casework.visits import HOME, VisitReport, record_visit
from domain.errors import InvalidInput, InvalidTransition, NotInScope
from domain.people.roles import Role
from domain.photos.evidence import apply_restamped

# Every refusal code of record_visit → what to tell the visitor: how to put it right from the summary, or,
# for codes the form's own steps rule out (only a stale or forged draft gets them), to check and resubmit.
NOT_SAVED = "visit.not_saved"
REFUSALS = {
    **{
        code: f"visit.refused.{code}"
        for code in (
            "photos_required",
            "notice_too_early",
            "notice_in_person_only",
            "outcome_needs_someone_met",
            "next_follow_up_on",
            "promised_return_on",
            "visit_before_absence",
        )
    },
    "case_not_visitable": "visit.refused.case_not_visitable",  # ends the form: nothing left to visit
    "date_in_future": "form.date_in_future",
    "date_too_old": "form.date_too_old",
    **dict.fromkeys(
        (
            "unknown_met",
            "unknown_outcome",
            "unknown_mode",
            "other_school",
            "outcome_detail",
            "too_many_photos",
            "location_only_for_home_visits",
            "no_location_reason",
            "location",
            "visitor_not_eligible",
            "attachment_not_yours",
        ),
        NOT_SAVED,
    ),
}


async def refuse_case(ctx: FormContext, value: str) -> None:
    """A case id that was not offered (stale or forged callback data) is logged."""
    audit(ctx.uow, ctx.actor, ctx.now, "denied", "case", value[:20], via="telegram_button")


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


def _report(answers: Answers) -> VisitReport:
    """The answers of the steps that apply, as the domain's report."""
    applies = {s.key: s.applies(answers) for s in FORM.steps}

    def given(key: str) -> object:
        return answers.get(key) if applies[key] else None

    location = given("location")
    follow_up = given("next_follow_up_on")
    return VisitReport(
        case_id=int(answers["case"]),
        visited_on=date.fromisoformat(answers["visited_on"]),
        mode=answers.get("mode", HOME),  # a draft from before the question: visits were home visits
        met=answers["met"],
        outcome=answers["outcome"],
        visitors=[int(v) for v in answers.get("visitors") or []],
        promised_return_on=date.fromisoformat(answers["promised_on"]) if applies["promised_on"] else None,
        other_school=answers.get("other_school") if applies["other_school"] else None,
        outcome_detail=answers.get("outcome_detail") if applies["outcome_detail"] else None,
        notice_served=given("notice") == "yes",
        location=(location["lat"], location["lon"]) if isinstance(location, dict) else None,
        no_location_reason=answers.get("no_location_reason") if applies["no_location_reason"] else None,
        next_follow_up_on=date.fromisoformat(follow_up) if isinstance(follow_up, str) else None,
        note=answers.get("note"),
        attachment_ids=list(answers.get(PHOTOS) or []),
    )


async def submit(ctx: FormContext, answers: Answers) -> str | Submitted:
    report = _report(answers)
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
        if exc.code == "case_not_visitable" and case is not None:  # returned or closed meanwhile
            return ctx.t(REFUSALS[exc.code], number=case.number, status=status_label(ctx, case.status))
        raise Reask(REFUSALS.get(exc.code, NOT_SAVED), **exc.params) from None
    assert case is not None
    await apply_restamped(ctx.uow, restamped)
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
    if report.next_follow_up_on:
        lines.append(ctx.t("visit.submitted_follow_up", day=report.next_follow_up_on.isoformat()))
    return Submitted("\n".join(lines), case.number)


class VisitForm(Form):
    async def summary_lines(self, ctx: FormContext, answers: Answers) -> list[str]:
        """A preset case is not a question, but the summary still names it."""
        lines = await super().summary_lines(ctx, answers)
        case = await ctx.uow.cases.get(int(answers["case"])) if answers.get(PRESET) else None
        if case is not None:
            label, value = ctx.t("visit.case.label"), await case_label(ctx, case)
            lines.insert(0, ctx.t("form.summary_line", label=label, value=value))
        return lines


def outcome_is(outcome: str) -> Callable[[Answers], bool]:
    """The condition of an outcome's own follow-up question (they are alternatives: group "outcome")."""
    return lambda a: a.get("outcome") == outcome


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
        ModeStep("mode", "visit.ask_mode", fixed("visit.mode", visits.MODES), columns=2),
        VisitorsStep("visitors", "visit.ask_visitors", colleagues, columns=1),
        MetStep("met", "visit.ask_met", fixed("visit.met", visits.MET), columns=2),
        OutcomeStep("outcome", "visit.ask_outcome", outcome_choices, columns=2),
        DateStep(
            "promised_on",
            "visit.ask_promised_on",
            not_before=visit_day,
            allow_future=True,
            max_ahead_days=visits.PROMISE_HORIZON.days,
            buttons=("today", "tomorrow"),
            when=outcome_is(visits.AGREED),
            depends_on=("outcome",),
            group="outcome",
        ),
        TextStep(
            "other_school",
            "visit.ask_other_school",
            optional=False,
            max_length=100,
            when=outcome_is(visits.ELSEWHERE),
            depends_on=("outcome",),
            group="outcome",
        ),
        TextStep(
            "outcome_detail",
            "visit.ask_outcome_detail",
            optional=False,
            max_length=500,
            when=outcome_is(visits.OTHER),
            depends_on=("outcome",),
            group="outcome",
        ),
        ChoiceStep(
            "notice",
            "visit.ask_notice",
            fixed("visit.notice", ("yes", "no")),
            columns=2,
            when=lambda a: a.get(NOTICE_ALLOWED) is True,
            depends_on=("outcome",),
        ),
        VisitPhotos(PHOTOS, "visit.ask_photos", store=store_photo, minimum=1, maximum=visits.MAX_PHOTOS),
        LocationStep(
            "location", "visit.ask_location", when=lambda a: a.get("mode") == HOME, depends_on=("mode",)
        ),
        TextStep(
            "no_location_reason",
            "visit.ask_no_location_reason",
            optional=False,
            max_length=200,
            when=lambda a: a.get("mode") == HOME and "location" in a and a["location"] is None,
            depends_on=("mode", "location"),
        ),
        DateStep(
            "next_follow_up_on",
            "visit.ask_next_follow_up",
            not_before=follow_up_earliest,
            allow_future=True,
            max_ahead_days=visits.FOLLOW_UP_HORIZON.days,
            buttons=("tomorrow", "in_a_week"),
            optional=True,
            skipped_key="visit.follow_up_default",
        ),
        TextStep("note", "visit.ask_note", optional=True, max_length=500, identifiers_key=NOTE_IDENTIFIERS),
    ],
    submit=submit,
    begin=begin,
    media_hint="visit.media_hint",
)
