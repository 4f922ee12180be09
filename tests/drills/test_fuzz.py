"""Random inputs at random steps of every form, straight into the channel-neutral engine on SQLite.

No exception may escape `Conversations.handle`, and every prompt, button and toast must be in the
person's language: for English speakers no Chinese characters except data (names of pupils, staff,
classes, schools, places, and what the person typed) and an official term glossed in brackets; for Chinese speakers every prompt has Chinese.

Default run: 1 200 inputs. The full drill, 10 000 inputs: `HYPOTHESIS_PROFILE=drill pytest tests/drills/test_fuzz.py`.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.container import Services, build_services
from app.settings import load_settings
from bot.conversations.catalogue import FORMS
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import Command, FormContext, Input, Location, Photo, Tap, Text, Unsupported
from domain.audit import Actor
from domain.clock import FixedClock
from domain.people.scope import scope_for
from domain.photos.processing import PhotoRejected
from domain.privacy.identity import mask_name
from tests import db
from tests.factories import World, build_world

FULL = os.environ.get("HYPOTHESIS_PROFILE") == "drill"
INPUTS_PER_EXAMPLE = 20
EXAMPLES = 500 if FULL else 60  # × 20 inputs: 10 000 in the drill, 1 200 by default
PEOPLE = {
    "teacher_a": "zh_CN",
    "teacher_b": "en",
    "subject": "en",
    "principal": "zh_CN",
    "cadre_a": "zh_CN",
    "cadre_b": "en",
}
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ffff]")
# An official Chinese term in brackets after its English translation, e.g. "notice (劝返复学通知书)".
GLOSS = re.compile(r"[(（][\u3400-\u4dbf\u4e00-\u9fff]+[)）]")
NAV = [
    "~p0",
    "~p1",
    "~p9",
    "~p-1",
    "~noop",
    "~all",
    "~done",
    "~skip",
    "~submit",
    "~change",
    "~cancel",
    "~edit:student",
    "~edit:nope",
    "~edit:case",
    "today",
    "yesterday",
    "unknown",
]


def small_image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


IMAGES = [small_image("JPEG"), small_image("PNG"), b"", b"\xff\xd8\xff not really a jpeg", os.urandom(2048)]


@dataclass
class Fuzz:
    loop: asyncio.AbstractEventLoop
    services: Services
    world: World
    conversations: Conversations
    data: list[str]  # names and labels that are data, not catalog text, in any language
    typed: dict[int, list[str]] = field(default_factory=dict)
    shown: dict[int, Outcome] = field(default_factory=dict)
    inputs: int = 0
    reached: Counter[str] = field(default_factory=Counter)  # form.step after each input, and submits


@pytest.fixture
def fuzz(sqlite_template: Path, tmp_path: Path) -> Iterator[Fuzz]:
    loop = asyncio.new_event_loop()
    url = db.copy_sqlite(sqlite_template, tmp_path / "fuzz.db")
    services = build_services(
        load_settings(database_url=url, media_dir=tmp_path / "media"),
        FixedClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
    )
    world = loop.run_until_complete(build_world(services.uow))
    data = [s.name for s in world.students] + [mask_name(s.name) for s in world.students]
    data += [st_.name for st_ in world.staff.values()] + [
        world.class_a.name,
        world.class_b.name,
        world.school.name,
    ]
    data += [a.name for a in (world.county, world.township, world.village_a, world.village_b)]
    state = Fuzz(loop, services, world, Conversations(FORMS), sorted(set(data), key=len, reverse=True))
    yield state
    print(f"fuzz: {state.inputs} inputs; reached {dict(sorted(state.reached.items()))}")
    loop.run_until_complete(services.close())
    loop.close()


TEXTS = st.one_of(
    st.text(max_size=60),
    st.text(min_size=900, max_size=5000),
    st.sampled_from(
        [
            "2026-10-12",
            "10月12日",
            "2026/13/45",
            "0-0",
            "今天",
            "跳过",
            "Skip",
            "张",
            "/report",
            "  ",
            "\u202e\u0000",
            "1" * 30,
        ]
    ),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
KINDS = ["offered"] * 8 + ["tap", "text", "text", "photo", "location", "unsupported", "command"]
COMMANDS = [f.name for f in FORMS] + ["cancel", "help", "nonsense", "Report"]
UNSUPPORTED = ["sticker", "voice", "video", "contact", "document", "poll"]
MIMES = [None, "image/jpeg", "image/png", "application/pdf"]
# Every input draws the same fields in the same order, whatever the state: Hypothesis needs the shape
# of the data to be independent of what the database holds.
RAW = st.tuples(
    st.integers(0, len(KINDS) - 1),
    st.integers(0, 10**6),
    st.one_of(st.none(), st.integers(-5, 10**12)),
    st.one_of(st.sampled_from(NAV), st.text(max_size=70)),
    TEXTS,
    FLOATS,
    FLOATS,
    st.one_of(st.none(), st.integers(0, 60_000_000)),
    st.booleans(),
    st.lists(st.text(max_size=12), max_size=3),
)


def build_input(raw: tuple, outcome: Outcome | None) -> Input:  # type: ignore[type-arg]
    """Mostly plausible (an offered button with the right seq), often not, sometimes absurd."""
    kind, pick, forged_seq, value, text, lat, lon, size, flag, args = raw
    offered = [c.value for p in (outcome.prompts if outcome else []) for row in p.buttons for c in row]
    seq = outcome.seq if outcome else 0
    name = KINDS[kind]
    if name == "offered" and offered:
        return Tap(seq, offered[pick % len(offered)])
    if name in ("offered", "tap"):
        return Tap(seq if forged_seq is None else forged_seq, value)
    if name == "text":
        return Text(text)
    if name == "photo":
        return Photo(f"f{pick}", f"u{pick}", size, MIMES[pick % len(MIMES)], flag)
    if name == "location":
        return Location(lat, lon)
    if name == "unsupported":
        return Unsupported(UNSUPPORTED[pick % len(UNSUPPORTED)])
    return Command(COMMANDS[pick % len(COMMANDS)], tuple(args))


def check_language(fuzz: Fuzz, chat_id: int, language: str, outcome: Outcome) -> None:
    texts = [p.text for p in outcome.prompts] + [
        c.label for p in outcome.prompts for row in p.buttons for c in row
    ]
    texts += [p.request_location or "" for p in outcome.prompts] + ([outcome.toast] if outcome.toast else [])
    mine = sorted(
        {s for t in fuzz.typed.get(chat_id, []) for s in (t.strip(), t.strip()[:20], t)},
        key=len,
        reverse=True,
    )
    for text in texts:
        assert "{" not in text or "}" not in text or not re.search(r"\{[a-z_]+\}", text), text
        if language == "en":
            rest = GLOSS.sub("", text)
            for word in [*fuzz.data, *mine]:
                if word:
                    rest = rest.replace(word, "")
            assert not HAN.search(rest), f"Chinese in an English reply: {text!r}"
    if language == "zh_CN":
        for prompt in outcome.prompts:
            assert HAN.search(prompt.text), f"no Chinese in a Chinese prompt: {prompt.text!r}"


async def apply(fuzz: Fuzz, who: str, given: Input) -> Outcome:
    services, staff_id = fuzz.services, fuzz.world.staff[who].id
    chat_id, language = 800000 + staff_id, PEOPLE[who]

    async def fetch(photo: Photo) -> bytes:
        if (photo.file_size or 0) > 20_000_000:
            raise PhotoRejected("too_large")
        return IMAGES[int(photo.file_id[1:]) % len(IMAGES)]

    async with services.uow() as uow:
        staff = await uow.directory.staff(staff_id)
        assert staff is not None
        now = services.clock.now()
        ctx = FormContext(
            uow=uow,
            services=services,
            staff=staff,
            scope=await scope_for(uow, staff),
            actor=Actor(staff.id, f"telegram:{chat_id}", "telegram"),
            language=language,
            now=now,
            fetch_media=fetch,
        )
        outcome = await fuzz.conversations.handle(ctx, chat_id, given)
        draft = await uow.drafts.get(chat_id)
        fuzz.reached[f"{draft.form}.{draft.step}" if draft else "-"] += 1
        fuzz.reached["submitted"] += outcome.submitted
        await uow.commit()
    if isinstance(given, Text):
        fuzz.typed.setdefault(chat_id, []).append(given.text)
    check_language(fuzz, chat_id, language, outcome)
    if outcome.prompts:
        fuzz.shown[chat_id] = outcome
    fuzz.inputs += 1
    return outcome


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not FULL,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_random_inputs_at_random_steps_never_crash_and_answer_in_the_persons_language(
    fuzz: Fuzz, data: st.DataObject
) -> None:
    who = data.draw(st.sampled_from(sorted(PEOPLE)), label="who")
    chat_id = 800000 + fuzz.world.staff[who].id
    start = data.draw(st.sampled_from([f.name for f in FORMS]), label="form")

    raws = data.draw(
        st.lists(RAW, min_size=INPUTS_PER_EXAMPLE - 1, max_size=INPUTS_PER_EXAMPLE - 1), label="inputs"
    )

    async def session() -> None:
        await apply(fuzz, who, Command(start))
        for raw in raws:
            await apply(fuzz, who, build_input(raw, fuzz.shown.get(chat_id)))

    fuzz.loop.run_until_complete(session())
