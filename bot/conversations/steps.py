"""Reusable step kinds: choice (paginated, searchable), multi-choice, date, text, photos, location."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import date, timedelta

from bot.conversations.dates import parse_day
from bot.conversations.model import (
    Answers,
    Choice,
    FormContext,
    Input,
    Location,
    Numbered,
    Photo,
    Prompt,
    Reask,
    Redisplay,
    Tap,
    Text,
)
from domain.privacy.pii_text import find_identifiers, mask_identifiers

ChoicesProvider = Callable[[FormContext, Answers], Awaitable[list[Choice]]]
PAGE_SIZE = 8
MAX_TEXT = 1000
NAV_PREFIX = "~"  # values starting with it are navigation, never answers
NOTE_IDENTIFIERS = "form.note_has_identifiers"  # the refusal worded for a note (备注)


@dataclass
class Step:
    """One question of a form. Subclasses fill `prompt` and `receive`.

    `when` decides whether the question is asked, from earlier answers; `depends_on` names the steps
    whose answers it reads, so that a step counter knows whether the question is still undecided.
    Undecided questions of one `group` are alternatives (at most one of them is asked)."""

    key: str
    prompt_key: str
    _: KW_ONLY
    when: Callable[[Answers], bool] | None = None
    depends_on: tuple[str, ...] = ()
    group: str | None = None

    def applies(self, answers: Answers) -> bool:
        return self.when is None or self.when(answers)

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        raise NotImplementedError

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        """Stores the answer in `answers`, or raises Reask."""
        raise NotImplementedError

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        """The answer as shown in the summary."""
        value = answers.get(self.key)
        return "—" if value in (None, "", []) else str(value)


def fixed(prefix: str, values: tuple[str, ...]) -> ChoicesProvider:
    """Choices from a fixed list of codes, labelled from the catalog (`prefix.code`)."""

    async def choices(ctx: FormContext, answers: Answers) -> list[Choice]:
        return [Choice(v, ctx.t(f"{prefix}.{v}")) for v in values]

    return choices


def paginate(choices: list[Choice], page: int, columns: int) -> list[list[Choice]]:
    pages = max(1, -(-len(choices) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    chunk = choices[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [chunk[i : i + columns] for i in range(0, len(chunk), columns)]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(Choice(f"{NAV_PREFIX}p{page - 1}", "◀"))
        nav.append(Choice(f"{NAV_PREFIX}noop", f"{page + 1}/{pages}"))
        if page < pages - 1:
            nav.append(Choice(f"{NAV_PREFIX}p{page + 1}", "▶"))
        rows.append(nav)
    return rows


@dataclass
class ChoiceStep(Step):
    """Pick one of the offered values. Forged or stale values are refused, never trusted."""

    choices: ChoicesProvider
    columns: int = 2
    searchable: bool = False  # typed text narrows the list (e.g. a fragment of a pupil's name)
    empty_key: str | None = None  # message when there is nothing to choose
    on_refused: Callable[[FormContext, str], Awaitable[None]] | None = None

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        # A searchable provider reads the typed fragment from answers["_search"][key] itself,
        # because labels are masked and the search must match real names.
        choices = await self.choices(ctx, answers)
        page = int(answers.get("_page", {}).get(self.key, 0))
        text = ctx.t(self.prompt_key)
        fragment = answers.get("_search", {}).get(self.key)
        if not choices:
            text += "\n\n" + ctx.t(
                "form.search_no_match" if fragment else (self.empty_key or "form.nothing_to_choose")
            )
        elif fragment:
            text += "\n\n" + ctx.t("form.search_results", fragment=fragment, n=len(choices))
        rows = paginate(choices, page, self.columns)
        if fragment:
            rows.append([Choice(f"{NAV_PREFIX}all", ctx.t("form.show_all"))])
        return Prompt(text, rows)

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if isinstance(given, Text) and self.searchable and given.text.strip():
            fragment = given.text.strip()[:20]
            answers.setdefault("_search", {})[self.key] = fragment
            answers.setdefault("_page", {})[self.key] = 0
            raise Redisplay()
        if isinstance(given, Numbered):  # a number beyond those shown (the others became taps)
            raise Reask("form.no_such_number", number=given.number)
        if not isinstance(given, Tap):
            raise Reask("form.use_buttons")
        allowed = {c.value for c in await self.choices(ctx, answers)}
        if given.value not in allowed:
            if self.on_refused is not None:
                await self.on_refused(ctx, given.value)
            raise Reask("form.choice_not_available")
        answers[self.key] = given.value
        answers.get("_search", {}).pop(self.key, None)

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        value = answers.get(self.key)
        for choice in await self.choices(ctx, {k: v for k, v in answers.items() if k != "_search"}):
            if choice.value == value:
                return choice.label
        return "—"


@dataclass
class MultiChoiceStep(Step):
    """Toggle any number of values, then tap Done. Starts from `initial` (e.g. flags already on file)."""

    choices: ChoicesProvider
    initial: Callable[[FormContext, Answers], Awaitable[list[str]]] | None = None
    columns: int = 2

    async def selected(self, ctx: FormContext, answers: Answers) -> list[str]:
        if self.key not in answers:
            answers[self.key] = list(await self.initial(ctx, answers)) if self.initial else []
        return list(answers[self.key])

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        chosen = set(await self.selected(ctx, answers))
        choices = [
            Choice(c.value, ("✅ " if c.value in chosen else "▫️ ") + c.label)
            for c in await self.choices(ctx, answers)
        ]
        rows = [choices[i : i + self.columns] for i in range(0, len(choices), self.columns)]
        rows.append([Choice(f"{NAV_PREFIX}done", ctx.t("form.done"))])
        return Prompt(ctx.t(self.prompt_key), rows)

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if isinstance(given, Numbered):  # a number beyond those shown (the others became taps)
            raise Reask("form.no_such_number", number=given.number)
        if not isinstance(given, Tap):
            raise Reask("form.use_buttons")
        if given.value == f"{NAV_PREFIX}done":
            answers.setdefault(self.key, list(await self.selected(ctx, answers)))
            return
        allowed = {c.value for c in await self.choices(ctx, answers)}
        if given.value not in allowed:
            raise Reask("form.choice_not_available")
        chosen = await self.selected(ctx, answers)
        answers[self.key] = (
            [v for v in chosen if v != given.value] if given.value in chosen else chosen + [given.value]
        )
        raise Redisplay()

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        chosen = set(answers.get(self.key) or [])
        labels = [c.label for c in await self.choices(ctx, answers) if c.value in chosen]
        return "、".join(labels) if labels else ctx.t("form.none")


# Buttons a date step may offer, as days from today.
DAY_BUTTONS = {"yesterday": -1, "today": 0, "tomorrow": 1, "in_a_week": 7}


@dataclass
class DateStep(Step):
    """Buttons for nearby days, or a date typed as people say it (前天, 上周五, 9.3, …). Past dates only
    unless `allow_future` (then at most `max_ahead_days` ahead); never before `not_before`; optional
    ones offer Skip (the answer is then None and `skipped_key` describes it)."""

    not_before: Callable[[FormContext, Answers], Awaitable[date | None]] | None = None
    max_back_days: int = 366
    allow_future: bool = False
    max_ahead_days: int = 366
    buttons: tuple[str, ...] = ("today", "yesterday")
    optional: bool = False
    skipped_key: str = "form.none"

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        hint = ctx.t("form.date_hint_future" if self.allow_future else "form.date_hint")
        rows = [[Choice(b, ctx.t(f"form.{b}")) for b in self.buttons]]
        if self.optional:
            rows.append([Choice(f"{NAV_PREFIX}skip", ctx.t("form.skip"))])
        return Prompt(ctx.t(self.prompt_key) + "\n" + hint, rows)

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        today = ctx.now.astimezone(ctx.tz).date()
        if isinstance(given, Tap) and given.value == f"{NAV_PREFIX}skip" and self.optional:
            answers[self.key] = None
            return
        if isinstance(given, Tap) and given.value in self.buttons:
            day = today + timedelta(days=DAY_BUTTONS[given.value])
        elif isinstance(given, Text):
            parsed = parse_day(given.text, today)
            if parsed is None:
                raise Reask("form.date_unreadable")
            day = parsed
        else:
            raise Reask("form.date_unreadable")
        if day > today and not self.allow_future:
            raise Reask("form.date_in_future")
        if day > today + timedelta(days=self.max_ahead_days):
            raise Reask("form.date_too_far", days=self.max_ahead_days)
        if day < today - timedelta(days=self.max_back_days):
            raise Reask("form.date_too_old")
        earliest = await self.not_before(ctx, answers) if self.not_before else None
        if earliest is not None and day < earliest:
            raise Reask("form.date_before", earliest=earliest.isoformat())
        answers[self.key] = day.isoformat()

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        value = answers.get(self.key)
        return ctx.t(self.skipped_key) if value is None else str(value)


@dataclass
class TextStep(Step):
    """Free text up to `max_length`; optional ones offer a Skip button. An ID or mobile number in it is
    refused with `identifiers_key` (they belong in the roster, not in free text)."""

    optional: bool = True
    max_length: int = MAX_TEXT
    identifiers_key: str = "form.text_has_identifiers"

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        buttons = [[Choice(f"{NAV_PREFIX}skip", ctx.t("form.skip"))]] if self.optional else []
        return Prompt(ctx.t(self.prompt_key), buttons)

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if isinstance(given, Tap) and given.value == f"{NAV_PREFIX}skip" and self.optional:
            answers[self.key] = None
            return
        if not isinstance(given, Text) or not given.text.strip():
            raise Reask("form.text_expected")
        if len(given.text) > self.max_length:
            raise Reask("form.text_too_long", max=self.max_length, length=len(given.text))
        if find_identifiers(given.text):
            raise Reask(self.identifiers_key)
        answers[self.key] = given.text.strip()

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        # Masked also here: a draft saved before the check was in place may still hold a number.
        return mask_identifiers(await super().describe(ctx, answers))


PhotoHandler = Callable[[FormContext, Answers, Photo], Awaitable[int]]


@dataclass
class PhotosStep(Step):
    """Collects `minimum`–`maximum` photos (as photos or image files), then Done."""

    store: PhotoHandler  # validates, stores and returns an attachment id; raises Reask on a bad image
    minimum: int = 1
    maximum: int = 5

    def needed(self, answers: Answers) -> int:
        """How many photos this walk needs (a form may relax it, e.g. a phone call needs none)."""
        return self.minimum

    def text_key(self, answers: Answers) -> str:
        return self.prompt_key

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        have, minimum = len(answers.get(self.key, [])), self.needed(answers)
        text = ctx.t(self.text_key(answers), minimum=minimum, maximum=self.maximum)
        if have:
            text += "\n" + ctx.t("form.photos_so_far", n=have, maximum=self.maximum)
        label = "form.skip" if have == 0 and minimum == 0 else ("form.done" if have >= minimum else None)
        return Prompt(text, [[Choice(f"{NAV_PREFIX}done", ctx.t(label))]] if label else [])

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        have: list[int] = list(answers.get(self.key, []))
        if isinstance(given, Tap) and given.value == f"{NAV_PREFIX}done":
            if len(have) < self.needed(answers):
                raise Reask("form.photos_needed", minimum=self.needed(answers))
            answers[self.key] = have
            return
        if not isinstance(given, Photo):
            raise Reask("form.photo_expected")
        if len(have) >= self.maximum:
            raise Reask("form.photos_full", maximum=self.maximum)
        attachment_id = await self.store(ctx, answers, given)
        if attachment_id not in have:
            have.append(attachment_id)
        answers[self.key] = have
        raise Redisplay()

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        return ctx.t("form.photos_count", n=len(answers.get(self.key, [])))


@dataclass
class LocationStep(Step):
    """Asks for a Telegram location share; Skip leads to a reason (asked by the next step)."""

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        return Prompt(
            ctx.t(self.prompt_key),
            request_location=ctx.t("form.share_location"),
            extra_keys=[ctx.t("form.skip")],
        )

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if isinstance(given, Location):
            if not (-90 <= given.latitude <= 90 and -180 <= given.longitude <= 180):
                raise Reask("form.location_invalid")
            answers[self.key] = {"lat": round(given.latitude, 6), "lon": round(given.longitude, 6)}
            return
        if isinstance(given, Text) and given.text.strip() == ctx.t("form.skip"):
            answers[self.key] = None
            return
        raise Reask("form.location_expected")

    async def describe(self, ctx: FormContext, answers: Answers) -> str:
        loc = answers.get(self.key)
        return ctx.t("form.location_shared") if loc else ctx.t("form.location_skipped")


@dataclass
class ConfirmStep(Step):
    """The summary with Submit / Change an answer / Cancel."""

    key: str = "confirm"
    prompt_key: str = "form.summary"
    lines: Callable[[FormContext, Answers], Awaitable[list[str]]] | None = None  # set by the form

    async def prompt(self, ctx: FormContext, answers: Answers) -> Prompt:
        assert self.lines is not None
        body = "\n".join(await self.lines(ctx, answers))
        return Prompt(
            ctx.t(self.prompt_key) + "\n\n" + body,
            [
                [Choice(f"{NAV_PREFIX}submit", ctx.t("form.submit"))],
                [
                    Choice(f"{NAV_PREFIX}change", ctx.t("form.change")),
                    Choice(f"{NAV_PREFIX}cancel", ctx.t("form.cancel")),
                ],
            ],
        )

    async def receive(self, ctx: FormContext, answers: Answers, given: Input) -> None:
        if not isinstance(given, Tap) or given.value != f"{NAV_PREFIX}submit":
            raise Reask("form.use_buttons")
