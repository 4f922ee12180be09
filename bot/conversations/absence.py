"""/report — absence report: pupil, since when, reason, key groups, note, summary, submit."""

from __future__ import annotations

from datetime import date

from bot.conversations.form import Form
from bot.conversations.labels import local_date, status_label, student_label
from bot.conversations.model import Answers, Choice, FormContext, Reask, Submitted
from bot.conversations.steps import NOTE_IDENTIFIERS, ChoiceStep, DateStep, MultiChoiceStep, TextStep
from domain.audit import audit
from domain.casework.cases import REASON_SCHEME, AbsenceReport, report_absence
from domain.errors import AbsenceAlreadyReported, InvalidInput, NotInScope
from domain.people.roles import Role

UNKNOWN = "unknown"
# Every refusal code of report_absence → what to tell the teacher.
REFUSALS = {
    "date_in_future": "form.date_in_future",
    "date_too_old": "form.date_too_old",
    "unknown_code": "report.not_saved",  # a reason retired from the list while the form was open
    "unknown_flag": "report.not_saved",
    "not_on_roll": "report.not_saved",  # a 失学 child (no class) is not offered; a forged id is refused
}


async def students_in_scope(ctx: FormContext, answers: Answers) -> list[Choice]:
    """Pupils the teacher answers for; a typed fragment searches real names."""
    fragment = answers.get("_search", {}).get("student")
    # Principals (no classes): everyone in their school. Teachers report absences of pupils on a class
    # roll; a child on no roll (失学) is no one's pupil.
    searched = bool(fragment) or not ctx.scope.class_ids
    on_rolls = await ctx.uow.students.on_rolls(ctx.scope, fragment, limit=200 if searched else None)
    return [Choice(str(pupil.id), student_label(ctx, pupil, pupil.class_name)) for pupil in on_rolls]


async def refuse_student(ctx: FormContext, value: str) -> None:
    """A student id that was not offered (stale or forged callback data) is logged."""
    audit(ctx.uow, ctx.actor, ctx.now, "denied", "student", value[:20], via="telegram_button")


async def reason_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    codes = [c for c in await ctx.uow.codes.scheme(REASON_SCHEME) if not c.clears_case]
    label = (lambda c: c.label_zh) if ctx.language == "zh_CN" else (lambda c: c.label_en)
    return [Choice(c.code, label(c)) for c in codes] + [Choice(UNKNOWN, ctx.t("report.reason_unknown"))]


async def key_groups(ctx: FormContext, answers: Answers) -> list[Choice]:
    """The key groups a teacher may confirm in chat: sensitive ones (religion, a parent in prison, …) are
    neither offered nor shown here; coordinators keep them on the dashboard (DOMAIN.md §8)."""
    label = (lambda c: c.label_zh) if ctx.language == "zh_CN" else (lambda c: c.label_en)
    return [Choice(c.code, label(c)) for c in await ctx.uow.codes.scheme("key_group") if not c.sensitive]


async def flags_on_file(ctx: FormContext, answers: Answers) -> list[str]:
    """The pupil's flags that chat may show: those offered by `key_groups`."""
    offered = {c.value for c in await key_groups(ctx, answers)}
    return [f for f in await ctx.uow.students.flags(int(answers["student"])) if f in offered]


async def submit(ctx: FormContext, answers: Answers) -> Submitted:
    reason = answers.get("reason")
    report = AbsenceReport(
        student_id=int(answers["student"]),
        absent_since=date.fromisoformat(answers["absent_since"]),
        reason_code=None if reason in (None, UNKNOWN) else reason,
        flags=list(answers.get("flags") or []),
        note=answers.get("note"),
    )
    earlier = await ctx.uow.cases.latest_for_student(report.student_id)
    before = earlier.status if earlier is not None else None
    try:
        case, created = await report_absence(
            ctx.uow, ctx.scope, ctx.actor, report, now=ctx.now, policy=ctx.services.policy, tz=ctx.tz
        )
    except AbsenceAlreadyReported as exc:  # a repeat (e.g. after a lost reply): say where it is, end the form
        text = ctx.t(
            "report.already_recorded", number=exc.case_number, reported_on=local_date(ctx, exc.reported_at)
        )
        return Submitted(text, exc.case_number)
    except InvalidInput as exc:
        raise Reask(REFUSALS.get(exc.code, "report.not_saved")) from exc
    except NotInScope:
        raise Reask("report.student_not_available") from None
    # Back at school, cleared or closed this school year: the same case is opened again (a relapse).
    reopened = not created and before in ("returned", "retention", "cleared", "closed")
    key = (
        "report.submitted_new"
        if created
        else "report.submitted_reopened"
        if reopened
        else "report.submitted_added"
    )
    text = ctx.t(
        key,
        number=case.number,
        status=status_label(ctx, case.status),
        visit_due=local_date(ctx, case.visit_due_at),
    )
    return Submitted(text, case.number)


FORM = Form(
    name="report",
    roles=frozenset({Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.PRINCIPAL}),
    steps=[
        ChoiceStep(
            "student",
            "report.ask_student",
            students_in_scope,
            columns=1,
            searchable=True,
            empty_key="report.no_students",
            on_refused=refuse_student,
        ),
        DateStep("absent_since", "report.ask_since"),
        ChoiceStep("reason", "report.ask_reason", reason_choices, columns=2),
        MultiChoiceStep("flags", "report.ask_flags", key_groups, initial=flags_on_file),
        TextStep("note", "report.ask_note", optional=True, max_length=500, identifiers_key=NOTE_IDENTIFIERS),
    ],
    submit=submit,
)
