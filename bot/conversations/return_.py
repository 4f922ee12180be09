"""/return — confirm a child is back at school: case, day back, how confirmed, which school and class,
student record restored, support measures (保学措施), optional photo, submit."""

from __future__ import annotations

from datetime import date

from bot.conversations.evidence import PHOTOS, STAMP, store_photo
from bot.conversations.form import Form
from bot.conversations.labels import case_label, status_label
from bot.conversations.model import Answers, Choice, FormContext, Photo, Reask, Submitted
from bot.conversations.steps import ChoiceStep, DateStep, MultiChoiceStep, PhotosStep, TextStep, fixed
from domain.audit import audit
from domain.casework.cases import case_in_scope
from domain.casework.returns import (
    CONFIRMATION_METHODS,
    MAX_CLASS_NAME,
    MAX_SCHOOL_NAME,
    OTHER,
    SUPPORT_SCHEME,
    AlreadyReturned,
    ReturnReport,
    confirm_return,
    is_returnable,
    retention_checks_due,
    returnable_cases,
)
from domain.errors import InvalidInput, InvalidTransition, NotInScope
from domain.people.roles import Role

SAME, DIFFERENT = "same", "different"  # back at the pupil's own school and class, or elsewhere
# Every refusal code of confirm_return → how to put it right from the summary; codes the form's own steps
# rule out (only a stale or forged draft gets them) ask to check and resubmit.
NOT_SAVED = "return.not_saved"
REFUSALS = {
    **{
        code: f"return.refused.{code}"
        for code in ("returned_before_absence", "receiving_school_and_class", "unknown_support_measure")
    },
    "date_in_future": "form.date_in_future",
    "date_too_old": "form.date_too_old",
    **dict.fromkeys(
        ("unknown_method", "method_note_required", "receiving_too_long", "unknown_attachment"), NOT_SAVED
    ),
}


async def case_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    """Open cases in scope whose child can be confirmed back at school."""
    return [Choice(str(c.id), await case_label(ctx, c)) for c in await returnable_cases(ctx.uow, ctx.scope)]


async def refuse_case(ctx: FormContext, value: str) -> None:
    """A case id that was not offered (stale or forged callback data) is logged."""
    audit(ctx.uow, ctx.actor, ctx.now, "denied", "case", value[:20], via="telegram_button")


async def preset_case(ctx: FormContext, answers: Answers, args: tuple[str, ...]) -> None:
    """`/return <id>` or a "确认返校" button: the case is checked against scope and preset."""
    if not args:
        return
    if not args[0].isdigit():
        raise Reask("return.case_unknown")
    try:
        case = await case_in_scope(ctx.uow, ctx.scope, ctx.actor, int(args[0]), ctx.now)
    except NotInScope:
        raise Reask("return.case_not_yours") from None
    if not is_returnable(case):
        raise Reask("return.case_not_returnable", number=case.number, status=status_label(ctx, case.status))
    answers["case"] = str(case.id)


async def first_absence(ctx: FormContext, answers: Answers) -> date | None:
    case = await ctx.uow.cases.in_scope(ctx.scope, int(answers["case"]))
    return case.first_absent_on if case else None


async def method_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    return [Choice(m, ctx.t(f"return.method.{m}")) for m in CONFIRMATION_METHODS]


async def measure_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    """The active support measures of the code list (editable data, migration 0009)."""
    codes = await ctx.uow.codes.scheme(SUPPORT_SCHEME)
    return [Choice(c.code, c.label_zh if ctx.language == "zh_CN" else c.label_en) for c in codes]


def elsewhere(answers: Answers) -> bool:
    return answers.get("same_place") == DIFFERENT


async def store_return_photo(ctx: FormContext, answers: Answers, photo: Photo) -> int:
    """The visit photo pipeline (checks, evidence copy stamped with the day back at school)."""
    view = {**answers, "visited_on": answers["returned_on"]}
    attachment_id = await store_photo(ctx, view, photo)
    if STAMP in view:
        answers[STAMP] = view[STAMP]
    return attachment_id


async def submit(ctx: FormContext, answers: Answers) -> str | Submitted:
    """Confirms the return; a rule violation found only now (e.g. confirmed meanwhile) is explained."""
    report = ReturnReport(
        case_id=int(answers["case"]),
        returned_on=date.fromisoformat(answers["returned_on"]),
        method=answers["method"],
        method_note=answers.get("method_note") if answers["method"] == OTHER else None,
        attachment_ids=[int(i) for i in answers.get(PHOTOS) or []],
        receiving_school=answers.get("receiving_school") if elsewhere(answers) else None,
        receiving_class=answers.get("receiving_class") if elsewhere(answers) else None,
        record_restored=answers.get("record_restored") == "yes",
        support_measures=list(answers.get("support_measures") or []),
    )
    try:
        case = await confirm_return(
            ctx.uow, ctx.scope, ctx.actor, report, now=ctx.now, policy=ctx.services.policy, tz=ctx.tz
        )
    except AlreadyReturned as exc:
        return ctx.t(
            "return.already_returned", number=exc.case.number, status=status_label(ctx, exc.case.status)
        )
    except NotInScope:
        return ctx.t("return.case_not_yours")
    except InvalidInput as exc:  # e.g. the case was changed from the summary after the date was given
        raise Reask(REFUSALS.get(exc.code, NOT_SAVED), **exc.params) from None
    except InvalidTransition:
        return ctx.t("return.not_recorded")
    checks = retention_checks_due(report.returned_on, ctx.services.policy)
    text = ctx.t(
        "return.submitted",
        number=case.number,
        returned_on=report.returned_on.isoformat(),
        status=status_label(ctx, case.status),
        first_check=checks[0] if checks else "—",
    )
    return Submitted(text, case.number)


FORM = Form(
    name="return",
    roles=frozenset({Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.PRINCIPAL, Role.VILLAGE_CADRE}),
    steps=[
        ChoiceStep(
            "case",
            "return.ask_case",
            case_choices,
            columns=1,
            empty_key="return.no_cases",
            on_refused=refuse_case,
        ),
        DateStep("returned_on", "return.ask_date", not_before=first_absence),
        ChoiceStep("method", "return.ask_method", method_choices, columns=1),
        TextStep(
            "method_note",
            "return.ask_method_note",
            optional=False,
            max_length=200,
            when=lambda a: a.get("method") == OTHER,
            depends_on=("method",),
        ),
        ChoiceStep(
            "same_place", "return.ask_same_place", fixed("return.same_place", (SAME, DIFFERENT)), columns=1
        ),
        TextStep(
            "receiving_school",
            "return.ask_receiving_school",
            optional=False,
            max_length=MAX_SCHOOL_NAME,
            when=elsewhere,
            depends_on=("same_place",),
        ),
        TextStep(
            "receiving_class",
            "return.ask_receiving_class",
            optional=False,
            max_length=MAX_CLASS_NAME,
            when=elsewhere,
            depends_on=("same_place",),
        ),
        ChoiceStep(
            "record_restored", "return.ask_record_restored", fixed("return.record_restored", ("yes", "no"))
        ),
        MultiChoiceStep("support_measures", "return.ask_support_measures", measure_choices),
        PhotosStep(PHOTOS, "return.ask_photo", store_return_photo, minimum=0, maximum=1),
    ],
    submit=submit,
    begin=preset_case,
)
