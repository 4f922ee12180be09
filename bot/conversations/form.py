"""A form: named steps ending in a summary, a submit action, and who may fill it in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.conversations.model import Answers, FormContext
from bot.conversations.steps import ConfirmStep, Step
from domain.roles import Role

Begin = Callable[[FormContext, Answers, tuple[str, ...]], Awaitable[None]]
Submit = Callable[[FormContext, Answers], Awaitable[str]]


@dataclass
class Form:
    name: str  # also the command that starts it
    steps: list[Step]
    submit: Submit  # performs the domain action; returns the confirmation text
    roles: frozenset[Role]
    begin: Begin | None = None  # presets from the command's arguments (e.g. a case id); may raise Reask
    confirm: ConfirmStep = field(default_factory=ConfirmStep)

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
        return self._next_open(steps[index + 1 :], answers)

    def _next_open(self, steps: list[Step], answers: Answers) -> Step:
        return next(s for s in steps if s is self.confirm or (s.applies(answers) and s.key not in answers))

    def editable(self, answers: Answers) -> list[Step]:
        return [s for s in self.steps if s.applies(answers)]

    async def summary_lines(self, ctx: FormContext, answers: Answers) -> list[str]:
        return [
            f"{ctx.t(f'{self.name}.{s.key}.label')}：{await s.describe(ctx, answers)}"
            for s in self.editable(answers)
        ]
