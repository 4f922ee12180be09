"""/rollcall — term-start roll call: class, tick who has NOT arrived, summary, submit."""

from __future__ import annotations

from dataclasses import dataclass

from bot.conversations.form import Form
from bot.conversations.labels import local_date, student_label
from bot.conversations.model import Answers, Choice, FormContext, Input, Prompt, Reask, Tap
from bot.conversations.steps import NAV_PREFIX, ChoiceStep, MultiChoiceStep, paginate
from domain.audit import audit
from domain.casework.rollcall import RollCall, record_roll_call
from domain.errors import NotInScope, RollCallClosed
from domain.people.roles import Role
from domain.reminders.term_start import next_window, roll_call_open, verification_days


@dataclass
class ClassStep(ChoiceStep):
    """Choosing another class (from the summary) forgets the ticks made for the previous one."""

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        before = answers.get(self.key)
        await super().receive(ctx, answers, given)
        if before is not None and answers[self.key] != before:
            answers.pop("absent", None)
            answers.get("_page", {}).pop("absent", None)


@dataclass
class ChecklistStep(MultiChoiceStep):
    """A multi-choice for long lists (a whole class): one per row, paginated, with a running count."""

    columns: int = 1

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        chosen = set(await self.selected(ctx, answers))
        choices = [
            Choice(c.value, ("❌ " if c.value in chosen else "▫️ ") + c.label)
            for c in await self.choices(ctx, answers)
        ]
        rows = paginate(choices, int(answers.get("_page", {}).get(self.key, 0)), self.columns)
        rows.append([Choice(f"{NAV_PREFIX}done", ctx.t("form.done"))])
        return Prompt(ctx.t(self.prompt_key, n=len(chosen), total=len(choices)), rows)

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if (
            isinstance(given, Tap)
            and not given.value.startswith(NAV_PREFIX)
            and given.value not in {c.value for c in await self.choices(ctx, answers)}
        ):  # stale or forged
            audit(ctx.uow, ctx.actor, ctx.now, "denied", "student", given.value[:20], via="telegram_button")
            raise Reask("form.choice_not_available")
        await super().receive(ctx, answers, given)


async def my_classes(ctx: FormContext, answers: Answers) -> list[Choice]:
    """The classes this person is class teacher (班主任) of."""
    ids = [a.class_id for a in await ctx.uow.directory.assignments(ctx.staff.id) if a.is_class_teacher]
    return [Choice(str(c.id), c.name) for c in await ctx.uow.directory.classes(ids)] if ids else []


def closed(ctx: FormContext) -> Reask:
    """Outside the roll-call days: say when the next ones are, if the calendar knows."""
    policy = ctx.services.policy
    window = next_window(policy, ctx.now.astimezone(ctx.tz).date())
    if not window:
        return Reask("rollcall.closed", days=policy.roll_call_days)
    return Reask("rollcall.closed_next", days=policy.roll_call_days, first=window[0], last=window[-1])


async def preset_class(ctx: FormContext, answers: Answers, args: tuple[str, ...]) -> None:
    """Refused outside the term's roll-call days; a teacher with one class goes straight to the checklist."""
    if not roll_call_open(ctx.services.policy, ctx.now.astimezone(ctx.tz).date()):
        raise closed(ctx)
    classes = await my_classes(ctx, answers)
    if not classes:
        raise Reask("rollcall.no_class")
    if len(classes) == 1:
        answers["class"] = classes[0].value


async def pupils(ctx: FormContext, answers: Answers) -> list[Choice]:
    students = await ctx.uow.students.of_class(int(answers["class"]))
    return [Choice(str(s.id), student_label(ctx, s, None)) for s in students]


async def submit(ctx: FormContext, answers: Answers) -> str:
    """Records the roll call; every pupil ticked gets a suspected-dropout case to verify."""
    roll_call = RollCall(
        class_id=int(answers["class"]), absent_student_ids=[int(v) for v in answers.get("absent") or []]
    )
    try:
        result = await record_roll_call(
            ctx.uow, ctx.scope, ctx.actor, roll_call, now=ctx.now, policy=ctx.services.policy, tz=ctx.tz
        )
    except NotInScope:
        return ctx.t("rollcall.not_yours")
    except RollCallClosed:  # the form was opened on the last roll-call day and submitted after it
        reason = closed(ctx)
        return ctx.t(reason.key, **reason.params)
    cases = result.opened + result.updated
    if not cases:
        return ctx.t("rollcall.all_present")
    due = min((c.verification_due_at for c in cases if c.verification_due_at), default=None)
    return ctx.t(
        "rollcall.submitted",
        opened=len(result.opened),
        updated=len(result.updated),
        due=local_date(ctx, due),
        window=verification_days(ctx.services.policy),
    )


FORM = Form(
    name="rollcall",
    roles=frozenset({Role.CLASS_TEACHER}),
    steps=[
        ClassStep("class", "rollcall.ask_class", my_classes, columns=1),
        ChecklistStep("absent", "rollcall.ask_absent", pupils),
    ],
    submit=submit,
    begin=preset_class,
)
