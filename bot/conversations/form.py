"""A form: named steps ending in a summary, a submit action, and who may fill it in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.conversations.model import Answers, FormContext, Prompt, Submitted
from bot.conversations.steps import ConfirmStep, Step
from domain.people.roles import Role

PRESETS = "_presets"  # answers keys the command itself gave (e.g. the case of a "go:visit:<id>" button)

Begin = Callable[[FormContext, Answers, tuple[str, ...]], Awaitable[None]]
Submit = Callable[[FormContext, Answers], Awaitable[str | Submitted]]


@dataclass
class Form:
    name: str  # also the command that starts it
    steps: list[Step]
    submit: Submit  # performs the domain action; returns the confirmation (with the case, if one)
    roles: frozenset[Role]
    begin: Begin | None = None  # presets from the command's arguments (e.g. a case id); may raise Reask
    confirm: ConfirmStep = field(default_factory=ConfirmStep)
    media_hint: str | None = None  # catalog key: what to say to a photo or location sent with no form open

    def __post_init__(self) -> None:
        self.confirm.lines = self.summary_lines
        keys = [s.key for s in self.all_steps]
        assert len(keys) == len(set(keys)), f"duplicate step keys in {self.name}"

    @property
    def all_steps(self) -> list[Step]:
        return [*self.steps, self.confirm]

    def step(self, key: str) -> Step:
        for step in self.all_steps:
            if step.key == key:
                return step
        raise KeyError(f"{self.name} has no step {key}")

    def first(self, answers: Answers) -> Step:
        """The first question to ask; steps a preset already answered (e.g. the case) are skipped."""
        return self._next_open(self.all_steps, answers)

    def after(self, key: str, answers: Answers) -> Step:
        """The next step that applies and is not answered yet, else the summary. After a change from
        the summary this returns there at once, unless the change opened a follow-up question."""
        steps = self.all_steps
        index = [s.key for s in steps].index(key)
        following = self._next_open(steps[index + 1 :], answers)
        # A question still open before it (a draft saved before the form gained that question) is
        # asked before the summary, which must never show an unanswered question.
        return self._next_open(steps, answers) if following is self.confirm else following

    def _next_open(self, steps: list[Step], answers: Answers) -> Step:
        return next(s for s in steps if s is self.confirm or (s.applies(answers) and s.key not in answers))

    def questions(self, answers: Answers) -> list[Step]:
        """The questions of this walk, in order: the steps that apply, not those the command answered.
        A step whose condition still waits for an answer counts as asked (once per group of
        alternatives), so a step counter may drop as answers come in but never exceeds its total."""
        asked: dict[str, bool | None] = {}  # step key -> asked, not asked, or not known yet
        groups: set[str] = set()
        found = []
        presets = set(answers.get(PRESETS, ()))
        for s in self.steps:
            waiting = any(k not in answers and asked.get(k) is not False for k in s.depends_on)
            asked[s.key] = None if s.when is not None and waiting else s.applies(answers)
            if asked[s.key] is False or s.key in presets:
                continue
            if asked[s.key] is None and s.group is not None:
                if s.group in groups:
                    continue
                groups.add(s.group)
            found.append(s)
        return found

    def counter(self, step: Step, answers: Answers) -> tuple[int, int] | None:
        """(n, total) of a question; None for the summary and for steps the command answered."""
        keys = [s.key for s in self.questions(answers)]
        return (keys.index(step.key) + 1, len(keys)) if step.key in keys else None

    async def ask(self, ctx: FormContext, step: Step, answers: Answers) -> Prompt:
        """The step's prompt, headed by its counter, e.g. （2/5）."""
        prompt = await step.prompt(ctx, answers)
        place = self.counter(step, answers)
        if place is not None:
            prompt.text = ctx.t("form.step_of", n=place[0], total=place[1], text=prompt.text)
        return prompt

    def editable(self, answers: Answers) -> list[Step]:
        return [s for s in self.steps if s.applies(answers)]

    async def summary_lines(self, ctx: FormContext, answers: Answers) -> list[str]:
        return [
            ctx.t(
                "form.summary_line",
                label=ctx.t(f"{self.name}.{s.key}.label"),
                value=await s.describe(ctx, answers),
            )
            for s in self.editable(answers)
        ]
