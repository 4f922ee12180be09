"""Runs any form one input at a time; the draft (step + answers) is saved in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.conversations.form import PRESETS, Form
from bot.conversations.model import (
    Choice,
    Command,
    FormContext,
    Input,
    Location,
    Numbered,
    Photo,
    Prompt,
    Reask,
    Redisplay,
    Submitted,
    Tap,
)
from bot.conversations.ports import Draft
from bot.conversations.steps import NAV_PREFIX, ChoiceStep, LocationStep, MultiChoiceStep
from domain.people.roles import Role


def _prompt_record(prompt: Prompt) -> dict[str, Any]:
    """A prompt as JSON (what dataclasses.asdict gives, without its deep copy: every step stores one)."""
    return {
        "text": prompt.text,
        "buttons": [[{"value": c.value, "label": c.label} for c in row] for row in prompt.buttons],
        "request_location": prompt.request_location,
        "extra_keys": list(prompt.extra_keys),
        "remove_keyboard": prompt.remove_keyboard,
    }


# How long a submitted form's buttons answer with what was saved (then: "this form has ended").
KEEP_RECEIPT = timedelta(days=3)


@dataclass
class Outcome:
    """What to show: new prompts (their buttons carry `seq`), and/or a short toast for a button tap."""

    prompts: list[Prompt] = field(default_factory=list)
    seq: int = 0
    toast: str | None = None
    handled: bool = True
    submitted: bool = False
    in_place: bool = False  # replace the message whose button was tapped, rather than sending anew
    discard_changes: bool = False  # roll back whatever the refused submit wrote; the draft stays as it was
    confirms: bool = False  # carries a submitted form's confirmation: once shown, its receipt is delivered

    def record(self) -> dict[str, Any]:
        """What is shown, as JSON kept with the applied update (shown again after a lost reply)."""
        return {
            "prompts": [_prompt_record(p) for p in self.prompts],
            "seq": self.seq,
            "toast": self.toast,
            "in_place": self.in_place,
            "confirms": self.confirms,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Outcome:
        prompts = [
            Prompt(
                p["text"],
                [[Choice(**c) for c in row] for row in p["buttons"]],
                p["request_location"],
                p["extra_keys"],
                p["remove_keyboard"],
            )
            for p in data["prompts"]
        ]
        return cls(
            prompts,
            seq=data["seq"],
            toast=data["toast"],
            in_place=data["in_place"],
            confirms=data.get("confirms", False),
        )


class Conversations:
    """The forms by command name, and the one loop that walks any of them."""

    def __init__(self, forms: list[Form]) -> None:
        self.forms = {f.name: f for f in forms}

    async def handle(self, ctx: FormContext, conversation: int, given: Input) -> Outcome:
        """Applies one input to the conversation's form (or starts one); the draft is saved, not committed."""
        draft = await ctx.drafts.get(conversation)
        keyboard = self._keyboard_shown(draft)  # known before a re-bound chat's draft goes
        if draft is not None and draft.staff_id != ctx.staff.id:  # a re-bound chat starts clean
            await ctx.drafts.delete(conversation)
            draft = None
        if isinstance(given, Command):
            return await self._command(ctx, conversation, draft, given, keyboard)
        if draft is None or draft.form not in self.forms:
            if isinstance(given, Tap):
                return await self._receipt(ctx, conversation)
            if isinstance(given, Photo | Location) and (hint := self._media_hint(Role(ctx.staff.role))):
                return Outcome([Prompt(ctx.t(hint))])
            return Outcome(handled=False)
        form = self.forms[draft.form]
        if isinstance(given, Numbered):
            given = await self._numbered(ctx, draft, form, given)
        if isinstance(given, Tap):
            if given.seq != draft.seq:
                # An older button, or the reply to the last answer never arrived (weak signal):
                # show where the form stands, so the person can go on rather than start again. In
                # place of the tapped message where the step has inline buttons (one edit, not a new
                # message: a quick double tap must not flood the chat).
                prompt = await form.ask(ctx, form.step(draft.step), dict(draft.answers))
                inline = not (prompt.request_location or prompt.remove_keyboard)
                return Outcome([prompt], seq=draft.seq, toast=ctx.t("form.button_stale"), in_place=inline)
            if given.value.startswith(NAV_PREFIX):
                navigated = await self._navigate(ctx, conversation, draft, form, given.value)
                if navigated is not None:
                    return navigated
        return await self._answer(ctx, conversation, draft, form, given)

    def _keyboard_shown(self, draft: Draft | None) -> bool:
        """Whether the chat may still show a reply keyboard: only a location step puts one up, and every
        way off that step but a new command takes it down. So a command needs to remove one only when it
        interrupts a form at a location step (on Telegram that is a message of its own when the new
        prompt has inline buttons: most steps need one Bot API call, not two)."""
        if draft is None:
            return False
        form = self.forms.get(draft.form)
        if form is None or draft.step not in {s.key for s in form.all_steps}:
            return True  # a form or step of another version: it may have shown one
        return isinstance(form.step(draft.step), LocationStep)

    @staticmethod
    async def _numbered(ctx: FormContext, draft: Draft, form: Form, given: Numbered) -> Input:
        """A typed number on a choice step: a tap on the choice of that number in the step's prompt as it
        stands (answers buttons only, in order, as the channel numbered them). Otherwise the text."""
        step = form.step(draft.step)
        if not isinstance(step, ChoiceStep | MultiChoiceStep):
            return given
        prompt = await step.prompt(ctx, dict(draft.answers))
        choices = [c for row in prompt.buttons for c in row if not c.value.startswith(NAV_PREFIX)]
        if 1 <= given.number <= len(choices):
            return Tap(draft.seq, choices[given.number - 1].value)
        return given

    @staticmethod
    async def _receipt(ctx: FormContext, conversation: int) -> Outcome:
        """A tap on a form that is no longer open: if it was submitted, what was saved (the confirmation is
        sent again if it never reached the chat, e.g. lost after the save: Submit tapped again)."""
        row = await ctx.drafts.receipt(conversation, since=ctx.now - KEEP_RECEIPT)
        if row is None or row.staff_id != ctx.staff.id or row.receipt is None:
            return Outcome(toast=ctx.t("form.button_expired"))
        receipt = row.receipt
        case = receipt.get("case")
        toast = ctx.t("form.already_submitted", number=case) if case else ctx.t("form.already_done")
        if receipt.get("delivered"):
            return Outcome(toast=toast)
        return Outcome([Prompt(receipt["text"], remove_keyboard=True)], toast=toast, confirms=True)

    def _media_hint(self, role: Role) -> str | None:
        """What to say to a photo or location sent with no form open: which form takes them."""
        return next((f.media_hint for f in self.forms.values() if f.media_hint and role in f.roles), None)

    async def start(
        self, ctx: FormContext, conversation: int, name: str, args: tuple[str, ...] = ()
    ) -> Outcome:
        """Starts a form as if its command had been sent (used by reminder and /mycases buttons)."""
        return await self.handle(ctx, conversation, Command(name, args))

    async def _command(
        self, ctx: FormContext, conversation: int, draft: Draft | None, given: Command, keyboard: bool
    ) -> Outcome:
        if given.name == "cancel":
            if draft is None:
                return Outcome([Prompt(ctx.t("form.nothing_to_cancel"), remove_keyboard=True)])
            await ctx.drafts.delete(conversation)
            return Outcome([Prompt(ctx.t("form.cancelled"), remove_keyboard=True)])
        form = self.forms.get(given.name)
        if form is None:
            return Outcome(handled=False)
        if Role(ctx.staff.role) not in form.roles:
            return Outcome([Prompt(ctx.t("form.not_for_your_role"))])
        answers: dict[str, object] = {}
        try:
            if form.begin is not None:
                await form.begin(ctx, answers, given.args)
        except Reask as reason:
            return Outcome([Prompt(ctx.t(reason.key, **reason.params))])
        if presets := sorted(k for k in answers if not k.startswith("_")):
            answers[PRESETS] = presets
        prompts = []
        if draft is not None:
            await ctx.drafts.delete(conversation)
            # The notice (it has no buttons) takes a reply keyboard down, so the prompt needs no message
            # of its own for that.
            prompts.append(Prompt(ctx.t("form.previous_discarded"), remove_keyboard=keyboard))
        else:
            await ctx.drafts.clear_receipt(conversation)  # the last form's receipt makes way
        step = form.first(answers)
        draft = await ctx.drafts.start(
            conversation, staff_id=ctx.staff.id, form=form.name, step=step.key, answers=answers, now=ctx.now
        )
        prompts.append(await form.ask(ctx, step, answers))
        prompts[-1].remove_keyboard = keyboard and len(prompts) == 1
        return Outcome(prompts, seq=draft.seq)

    async def _navigate(
        self, ctx: FormContext, conversation: int, draft: Draft, form: Form, value: str
    ) -> Outcome | None:
        """Page turns, cancel, change-an-answer; None when the value is an answer for the step."""
        answers = dict(draft.answers)
        nav = value[len(NAV_PREFIX) :]
        if nav == "noop":
            return Outcome(toast="")
        if nav == "cancel":
            await ctx.drafts.delete(conversation)
            return Outcome([Prompt(ctx.t("form.cancelled"), remove_keyboard=True)])
        if nav.startswith("p") and nav[1:].isdigit():
            answers.setdefault("_page", {})[draft.step] = int(nav[1:])
        elif nav == "all":
            answers.get("_search", {}).pop(draft.step, None)
        elif nav == "change" and draft.step == form.confirm.key:
            choices = [
                Choice(f"{NAV_PREFIX}edit:{s.key}", ctx.t(f"{form.name}.{s.key}.label"))
                for s in form.editable(answers)
            ]
            which = Prompt(ctx.t("form.which_answer"), [[c] for c in choices])
            return await self._save(ctx, conversation, answers, draft.step, [which])
        elif nav.startswith("edit:") and draft.step == form.confirm.key:
            key = nav.removeprefix("edit:")
            if key not in {s.key for s in form.editable(answers)}:
                return Outcome(toast=ctx.t("form.button_stale"))
            if key in answers.get(PRESETS, ()):  # asked after all: it counts like any other question
                answers[PRESETS] = [k for k in answers[PRESETS] if k != key]
            prompt = await form.ask(ctx, form.step(key), answers)
            return await self._save(ctx, conversation, answers, key, [prompt])
        else:
            return None
        outcome = await self._save(
            ctx, conversation, answers, draft.step, [await form.ask(ctx, form.step(draft.step), answers)]
        )
        outcome.in_place = True
        return outcome

    async def _answer(
        self, ctx: FormContext, conversation: int, draft: Draft, form: Form, given: Input
    ) -> Outcome:
        step = form.step(draft.step)
        answers = dict(draft.answers)
        try:
            await step.receive(ctx, answers, given)
        except Redisplay:
            again = await form.ask(ctx, step, answers)
            outcome = await self._save(ctx, conversation, answers, step.key, [again])
            outcome.in_place = isinstance(given, Tap)
            return outcome
        except Reask as reason:
            return Outcome(
                [Prompt(ctx.t(reason.key, **reason.params)), await form.ask(ctx, step, dict(draft.answers))],
                seq=draft.seq,
            )
        if step is form.confirm:
            try:
                submitted = await form.submit(ctx, answers)
            except Reask as reason:  # refused at the last moment (e.g. the case moved on meanwhile)
                return Outcome(
                    [Prompt(ctx.t(reason.key, **reason.params)), await form.ask(ctx, step, answers)],
                    seq=draft.seq,
                    discard_changes=True,
                )
            if not isinstance(submitted, Submitted):
                submitted = Submitted(submitted)
            receipt = {"text": submitted.text, "case": submitted.case_number, "delivered": False}
            await ctx.drafts.submit(conversation, receipt=receipt, now=ctx.now)
            return Outcome([Prompt(submitted.text, remove_keyboard=True)], submitted=True, confirms=True)
        following = form.after(step.key, answers)
        prompt = await form.ask(ctx, following, answers)
        prompt.remove_keyboard = prompt.remove_keyboard or isinstance(step, LocationStep)
        return await self._save(ctx, conversation, answers, following.key, [prompt])

    @staticmethod
    async def _save(
        ctx: FormContext, conversation: int, answers: dict[str, object], step: str, prompts: list[Prompt]
    ) -> Outcome:
        seq = await ctx.drafts.save(conversation, step=step, answers=answers, now=ctx.now)
        return Outcome(prompts, seq=seq)
