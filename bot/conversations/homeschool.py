"""/homeschool — log one 送教上门 session: pupil (the plans the teacher is on), day, minutes, what was taught,
how the child was, an optional note and photo, submit. Logging drops the period's reminder."""

from __future__ import annotations

from datetime import date

from bot.conversations.evidence import PHOTOS, keep_photo
from bot.conversations.form import Form
from bot.conversations.labels import student_label
from bot.conversations.model import Answers, Choice, FormContext, Photo, Reask, Submitted
from bot.conversations.steps import ChoiceStep, DateStep, PhotosStep, TextStep, fixed
from domain.audit import audit
from domain.casework.visits import visit_moment
from domain.errors import InvalidInput, NotInScope
from domain.home_teaching.plans import CHILD_STATES, MAX_TEXT, SessionInput, log_session, plans_to_log
from domain.home_teaching.reminders import plan_home_teaching_reminders
from domain.people.roles import Role
from domain.photos.processing import WatermarkInfo
from storage import home_teaching as store

MINUTES = ("30", "45", "60", "90", "120")


async def plan_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    found = []
    for plan, student in await plans_to_log(ctx.uow, ctx.staff, ctx.scope):
        school_class = await ctx.uow.directory.school_class(student.class_id)
        found.append(
            Choice(str(plan.id), student_label(ctx, student, school_class.name if school_class else None))
        )
    return found


async def refuse_plan(ctx: FormContext, value: str) -> None:
    audit(ctx.uow, ctx.actor, ctx.now, "denied", "home_teaching_plan", value[:20], via="telegram_button")


async def preset_plan(ctx: FormContext, answers: Answers, args: tuple[str, ...]) -> None:
    """`/homeschool <plan id>` or the reminder's "记录送教" button: the plan is checked and preset."""
    if not args:
        return
    if args[0] not in {c.value for c in await plan_choices(ctx, answers)}:
        await refuse_plan(ctx, args[0])
        raise Reask("homeschool.plan_not_yours")
    answers["plan"] = args[0]


async def plan_start(ctx: FormContext, answers: Answers) -> date | None:
    plan = await store.plan(ctx.uow.session, int(answers["plan"]))
    return plan.starts_on if plan else None


async def minute_choices(ctx: FormContext, answers: Answers) -> list[Choice]:
    return [Choice(m, ctx.t("homeschool.minutes_value", n=m)) for m in MINUTES]


async def store_session_photo(ctx: FormContext, answers: Answers, photo: Photo) -> int:
    """The visit photo pipeline (EXIF removed, stamped evidence copy, thumbnail); kept without a case."""

    async def info() -> WatermarkInfo:
        return WatermarkInfo(
            visit_time=visit_moment(date.fromisoformat(answers["held_on"]), ctx.now, ctx.tz),
            village="—",
            case_number=ctx.t("homeschool.watermark"),
            visitor_name=ctx.staff.name,
        )

    attachment_id, _new = await keep_photo(ctx, answers, photo, None, info)
    return attachment_id


async def submit(ctx: FormContext, answers: Answers) -> str | Submitted:
    data = SessionInput(
        plan_id=int(answers["plan"]),
        held_on=date.fromisoformat(answers["held_on"]),
        minutes=int(answers["minutes"]),
        content=answers["content"],
        child_state=answers["child_state"],
        note=answers.get("note"),
        photo_ids=tuple(int(i) for i in answers.get(PHOTOS) or []),
    )
    today = ctx.now.astimezone(ctx.tz).date()
    try:
        plan, _ = await log_session(ctx.uow, ctx.staff, ctx.scope, ctx.actor, data, now=ctx.now, today=today)
    except NotInScope:
        return ctx.t("homeschool.plan_not_yours")
    except InvalidInput as exc:
        raise Reask(exc.code, **exc.params) from None
    services = ctx.services
    await plan_home_teaching_reminders(ctx.uow, plan, policy=services.policy, now=ctx.now, tz=ctx.tz)
    return Submitted(ctx.t("homeschool.submitted", held_on=data.held_on.isoformat(), minutes=data.minutes))


FORM = Form(
    name="homeschool",
    roles=frozenset({Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.PRINCIPAL}),
    steps=[
        ChoiceStep(
            "plan",
            "homeschool.ask_plan",
            plan_choices,
            columns=1,
            empty_key="homeschool.no_plans",
            on_refused=refuse_plan,
        ),
        DateStep("held_on", "homeschool.ask_date", not_before=plan_start),
        ChoiceStep("minutes", "homeschool.ask_minutes", minute_choices, columns=3),
        TextStep("content", "homeschool.ask_content", optional=False, max_length=MAX_TEXT),
        ChoiceStep(
            "child_state", "homeschool.ask_child_state", fixed("homeschool.child_state", CHILD_STATES)
        ),
        TextStep("note", "homeschool.ask_note", max_length=MAX_TEXT),
        PhotosStep(PHOTOS, "homeschool.ask_photo", store_session_photo, minimum=0, maximum=3),
    ],
    submit=submit,
    begin=preset_plan,
)
