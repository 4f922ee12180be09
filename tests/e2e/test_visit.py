"""/visit end to end, on Telegram and on WeCom: how the visit took place, photos (as photos and as files;
WeCom has image messages only) and location for home visits, follow-up questions, the notice after an
earlier visit, the next follow-up date, every refusal."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from app.container import Services, build_services
from app.settings import load_settings
from bot.conversations.evidence import MAX_MB, REJECTION_KEYS
from bot.conversations.model import Photo
from bot.media import telegram_fetcher
from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.casework.returns import ReturnReport, confirm_return
from domain.casework.visits import VisitReport, record_visit
from domain.clock import FixedClock
from domain.people.scope import scope_for
from domain.photos.processing import PhotoRejected
from i18n import t
from sandbox.emulator import Emulator
from sandbox.wecom import WeComEmulator
from storage.models import Attachment, Case
from tests.accounts import draft_key
from tests.e2e.conftest import PersonFactory, buttons
from tests.e2e.people import TELEGRAM, WECOM, Person, Said, TelegramPerson, WeComPerson
from tests.e2e.texts import assert_no_internal_words
from tests.factories import World
from tests.wecom_chat import labels

ABSENT_DAYS = 2  # an "absent" case: under the 3-day suspicion threshold


@pytest.fixture
async def services(database_url: str, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Services]:
    """The e2e services with photos kept in this test's own media directory."""
    settings = load_settings(
        database_url=database_url, telegram_bot_username="nol_e2e_bot", media_dir=tmp_path / "media"
    )
    svc = build_services(settings, clock)
    yield svc
    await svc.close()


async def open_case_for(services: Services, world: World, who: str, pupil_class: str) -> Case:
    async with services.uow() as uow:
        staff = world.staff[who]
        today = services.clock.now().astimezone(services.tz).date()
        report = AbsenceReport(
            world.student_in(getattr(world, pupil_class)).id, today - timedelta(days=ABSENT_DAYS)
        )
        case, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            report,
            now=services.clock.now(),
            policy=services.policy,
            tz=services.tz,
        )
        await uow.commit()
    return case


@pytest.fixture(autouse=True)
def quick_chats(emulator: Emulator) -> None:
    """Every re-ask is two messages; at Telegram's 1 message/s per chat these long scripts would mostly
    wait out flood limits (tested elsewhere), so this module allows faster chats."""
    emulator.set_limits(per_chat_rate=20.0, per_chat_burst=40.0)


@pytest.fixture
async def open_case(services: Services, world: World) -> Case:
    return await open_case_for(services, world, "teacher_a", "class_a")


def image(
    fmt: str = "JPEG", color: tuple[int, int, int] = (200, 120, 40), size: tuple[int, int] = (640, 480)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def attachments_of(services: Services, case_id: int) -> list[Attachment]:
    async with services.uow() as uow:
        return list(await uow.attachments.of_case(case_id))


async def visit_events(services: Services, case_id: int) -> list:  # type: ignore[type-arg]
    async with services.uow() as uow:
        return [e for e in await uow.cases.events(case_id) if e.kind == "visit_logged"]


async def log_earlier_visit(
    services: Services, world: World, case: Case, outcome: str = "unreachable"
) -> None:
    """A phone call logged before the test: the notice may follow an earlier visit only."""
    async with services.uow() as uow:
        staff = world.staff["teacher_a"]
        today = services.clock.now().astimezone(services.tz).date()
        report = VisitReport(case.id, today, "guardian", outcome, mode="phone")
        await record_visit(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            report,
            now=services.clock.now(),
            policy=services.policy,
            tz=services.tz,
        )
        await uow.commit()


def has(label: str) -> Callable[[Said], bool]:
    """A button with exactly this label (not just the words somewhere in the text)."""
    return lambda s: label in s.buttons


RECEIVED = {t("zh_CN", "form.received"), t("en", "form.received")}


def asked(said: Said) -> str:
    """What the app asked, without the receipt Telegram sends to take a reply keyboard away."""
    return "\n".join(line for line in said.text.splitlines() if line not in RECEIVED)


def outcome_step(s: Said) -> bool:
    return "外出打工" in s.buttons


async def to_outcome(
    teacher: Person, case: Case, *, mode: str = "入户家访", met: str = "监护人", colleague: str | None = None
) -> Said:
    """/visit → case → today → mode → (colleague) → met; leaves the outcome question open."""
    await teacher.send("/visit")
    await teacher.choose(case.number)
    await teacher.expect(has("今天"))
    await teacher.tap("今天")
    await teacher.expect(has("到校约谈"))
    await teacher.tap(mode)
    await teacher.expect(lambda s: "完成" in s.buttons and "自动记入" in s.text)
    if colleague:
        await teacher.tap(f"▫️ {colleague}")
        await teacher.expect(has(f"✅ {colleague}"))
    await teacher.tap("完成")
    await teacher.expect(has("无人应答"))
    await teacher.tap(met)
    return await teacher.expect(outcome_step)


async def to_photos(teacher: Person, case: Case, outcome: str = "联系不上") -> None:
    await to_outcome(teacher, case)
    await teacher.tap(outcome)
    await teacher.expect("家访照片")


async def send_and_count(
    teacher: Person, n: int, data: bytes, name: str = "p.png", mime: str = "image/png"
) -> None:
    """The picture as a file (Telegram: a document; WeCom: an image message), counted as the n-th."""
    await teacher.send_file(data, mime, name)
    await teacher.expect(f"已收到 {n}/5")


def served_photo(teacher: Person, request: pytest.FixtureRequest) -> bytes:
    """The bytes the channel serves for the photo just sent: Telegram re-encodes a photo, WeCom keeps it."""
    if isinstance(teacher, TelegramPerson):
        emulator: Emulator = request.getfixturevalue("emulator")
        stored = emulator.registry.files.get(teacher.sent["photo"][-1]["file_id"])
        assert stored is not None
        return stored.data
    wecom_emu: WeComEmulator = request.getfixturevalue("wecom_emu")
    return [m for m in wecom_emu.state.media.values() if m.kind == "image"][-1].data


async def test_visit_with_two_photos_and_a_location_is_logged_once(
    person: PersonFactory,
    world: World,
    services: Services,
    open_case: Case,
    request: pytest.FixtureRequest,
) -> None:
    await log_earlier_visit(services, world, open_case)
    teacher = await person("teacher_a")
    await to_outcome(teacher, open_case, colleague="刘主任（村干部）")
    await teacher.tap("拒绝返校")
    notice = await teacher.expect(has("未送达"))
    assert "哪天返校" not in notice.text  # the promised date belongs to "agreed to return" only
    assert "《劝返复学通知书》" in notice.text
    await teacher.tap("已送达")
    ask = await teacher.expect("家访照片")
    assert ask.buttons == []  # no Done before the first photo
    data = image("JPEG")
    await teacher.send_photo(data)
    await teacher.expect("已收到 1/5")
    photo_bytes = served_photo(teacher, request)  # what getFile or media/get serves
    png = image("PNG", color=(30, 160, 90))
    await send_and_count(teacher, 2, png, "门口.png")
    provisional = {a.sha256: a.evidence_sha256 for a in await attachments_of(services, open_case.id)}
    await teacher.tap("完成")
    ask = await teacher.expect("位置")
    # Telegram shares it with a reply-keyboard button; WeCom says where its "Location" is.
    assert "📍 发送当前位置" in ask if teacher.channel == TELEGRAM else "选择“位置”" in ask.text
    await teacher.send_location(29.5630123, 106.5515567)
    await teacher.expect(lambda s: "下次跟进" in s.text and "一周后" in s.buttons)
    await teacher.send("下周一")  # as people say it
    await teacher.expect(lambda s: "跳过" in s.buttons and "补充" in s.text)
    await teacher.send("家长态度坚决，已讲解义务教育法")
    summary = await teacher.expect(has("✅ 提交"))
    for expected in (
        "拒绝返校",
        "2 张",
        "已送达",
        "刘主任",
        "本人",
        "入户家访",
        "2026-10-19",
        open_case.number,
    ):
        assert expected in summary.text
    assert_no_internal_words(summary.text)
    await teacher.tap("✅ 提交")
    done = await teacher.expect("家访已记录")
    assert "已送达《劝返复学通知书》" in done.text and "下次跟进：2026-10-19" in done.text
    assert_no_internal_words(done.text)

    event = (await visit_events(services, open_case.id))[-1]
    assert event.data["location"] == {"lat": 29.563012, "lon": 106.551557}
    assert (event.data["mode"], event.data["next_follow_up_on"]) == ("home", "2026-10-19")
    assert event.data["visitors"] == sorted([world.staff["teacher_a"].id, world.staff["cadre_a"].id])
    photos = await attachments_of(services, open_case.id)
    assert len(photos) == 2 and all(a.event_id == event.id for a in photos)
    assert {a.sha256 for a in photos} == {sha(photo_bytes), sha(png)}
    media = services.media
    for a in photos:
        assert a.evidence_sha256 is not None and a.height is not None
        assert sha(await media.get(a.sha256)) == a.sha256  # the stored original (no metadata to strip here)
        assert a.evidence_sha256 != provisional[a.sha256]  # re-stamped with the coordinates
        evidence = Image.open(io.BytesIO(await media.get(a.evidence_sha256)))
        assert evidence.format == "JPEG" and evidence.height > a.height and not evidence.getexif()
        assert await media.exists(a.thumbnail_sha256)  # type: ignore[arg-type]
    async with services.uow() as uow:
        case = await uow.cases.get(open_case.id)
    assert case is not None and case.status == CaseStatus.NOTICE_ISSUED
    assert case.return_due_at == services.clock.now() + timedelta(days=7)


async def test_photo_step_refuses_what_is_not_a_usable_photo(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    async with services.uow() as uow:
        before = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    attempts: list[tuple[Callable[[], Awaitable[object]], str]] = [
        (teacher.send_sticker, "请发送照片"),
        (teacher.send_voice, "请发送照片"),
        (lambda: teacher.send("照片在这里"), "请发送照片"),
        (lambda: teacher.send_file(b"just some notes", "text/plain", "notes.txt"), "不是图片"),
        (lambda: teacher.send_file(b"just some notes", "image/jpeg", "fake.jpg"), "不是图片"),
        (lambda: teacher.send_file(image()[:1500], "image/jpeg", "cut.jpg"), "已损坏"),
        (lambda: teacher.send_file(image("GIF"), "image/jpeg", "anim.jpg"), "不支持这种图片格式"),
    ]
    for send, expected in attempts:
        await send()
        await teacher.expect(expected)
    assert await attachments_of(services, open_case.id) == []
    async with services.uow() as uow:  # every refusal left the form where it was
        after = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert before is not None and after is not None
    assert (after.step, after.answers) == (before.step, before.answers)
    first = image("PNG", color=(1, 2, 3))
    await send_and_count(teacher, 1, first)
    await send_and_count(teacher, 1, first, "again.png")  # the same picture again is not counted twice
    for n in range(2, 6):
        await send_and_count(teacher, n, image("PNG", color=(10 * n, 20, 30)))
    await teacher.send_file(image("PNG", color=(250, 250, 250)), "image/png", "six.png")
    await teacher.expect("最多 5 张")
    assert len(await attachments_of(services, open_case.id)) == 5


async def test_dates_and_follow_up_questions(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await teacher.send("/visit")
    ask = await teacher.expect(lambda s: any(open_case.number in b for b in s.buttons))
    assert asked(ask).startswith("（1/13）")  # how many questions at most, until the answers tell
    await teacher.tap(ask.button(open_case.number))
    await teacher.expect(has("今天"))
    await teacher.send("2099-01-01")
    await teacher.expect("不能晚于今天")
    assert open_case.first_absent_on is not None
    before = open_case.first_absent_on - timedelta(days=1)
    await teacher.send(before.isoformat())
    await teacher.expect("不能早于")
    await teacher.tap("今天")
    await teacher.expect(has("到校约谈"))
    await teacher.tap("入户家访")
    await teacher.expect("自动记入")
    await teacher.tap("完成")
    await teacher.expect(has("无人应答"))
    await teacher.tap("监护人和学生")
    await teacher.expect(has("同意返校"))
    await teacher.tap("同意返校")
    ask = await teacher.expect("哪天返校")
    assert "明天" in ask.buttons
    today = services.clock.now().astimezone(services.tz).date()
    await teacher.send((today + timedelta(days=90)).isoformat())
    await teacher.expect("60 天以内")
    await teacher.send("明天")  # a future date is right here, said as people say it
    promised = today + timedelta(days=1)
    # An absent pupil who agreed to return is no dropout: the notice is not even asked.
    photos = await teacher.expect("家访照片")
    assert "未送达" not in photos.buttons
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.tap("完成")
    await teacher.expect("位置")
    await teacher.tap("跳过")
    await teacher.expect(lambda s: "为什么没有发送位置" in s.text and "跳过" not in s.buttons)
    await teacher.send("山里没有信号")
    await teacher.expect("下次跟进")
    await teacher.send("今天")  # the next follow-up comes after the visit
    await teacher.expect("不能早于")
    await teacher.send((today + timedelta(days=61)).isoformat())
    await teacher.expect("60 天以内")
    await teacher.tap("跳过")
    await teacher.expect("补充")
    await teacher.tap("跳过")
    summary = await teacher.expect(has("✅ 提交"))
    for expected in (promised.isoformat(), "山里没有信号", "下次跟进：按默认间隔", "方式：入户家访"):
        assert expected in summary.text
    assert_no_internal_words(summary.text)
    assert "（" not in asked(summary).splitlines()[0]  # the summary is no numbered question
    # Changing the outcome from the summary asks its own follow-up, then comes back to the summary.
    await teacher.tap("✏️ 修改")
    await teacher.expect(has("结果"))
    await teacher.tap("结果")
    await teacher.expect(has("其他"))
    await teacher.tap("其他")
    await teacher.expect("简要说明情况")
    await teacher.send("孩子随奶奶去了县城")
    summary = await teacher.expect(has("✅ 提交"))
    assert "孩子随奶奶去了县城" in summary.text and promised.isoformat() not in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("家访已记录")
    [event] = await visit_events(services, open_case.id)
    assert (event.data["outcome"], event.data["outcome_detail"]) == ("other", "孩子随奶奶去了县城")
    assert event.data["promised_return_on"] is None and event.data["location"] is None
    assert event.data["no_location_reason"] == "山里没有信号" and event.data["note"] is None
    assert event.data["next_follow_up_on"] is None


async def test_cancel_at_the_photo_step_logs_no_visit(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    assert await visit_events(services, open_case.id) == []
    [orphan] = await attachments_of(services, open_case.id)  # kept, but linked to no visit
    assert orphan.event_id is None
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None


async def test_a_visit_button_of_mycases_jumps_to_the_date(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await teacher.send("/mycases")
    await teacher.choose("1. 记录家访")
    ask = await teacher.expect(lambda s: "今天" in s.buttons and "哪天" in s.text)
    assert asked(ask).startswith("（1/12）")  # the case came with the button: not a question
    await teacher.tap("今天")
    await teacher.expect(has("到校约谈"))
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert draft is not None and int(draft.answers["case"]) == open_case.id


@pytest.mark.parametrize("channel", [TELEGRAM])  # forged callback data: WeCom sends only its cards' keys
async def test_a_visit_button_jumps_to_the_date_but_not_for_someone_elses_case(
    person: PersonFactory, world: World, services: Services, open_case: Case
) -> None:
    other = await open_case_for(services, world, "teacher_b", "class_b")
    teacher = await person("teacher_a")
    assert isinstance(teacher, TelegramPerson)
    phone = teacher.phone
    anchor = phone.last_message["message_id"]  # type: ignore[index]
    await phone.press_callback(anchor, f"go:visit:{open_case.id}")
    ask = await phone.wait_for_reply(lambda m: "今天" in buttons(m) and "哪天" in m["text"])
    assert ask["text"].startswith("（1/12）")  # the case came with the button: not a question
    await phone.press_callback(anchor, f"go:visit:{other.id}")
    await phone.wait_for_reply(lambda m: "不在您的负责范围" in m["text"])
    async with services.uow() as uow:
        denied = await uow.audit.entries("denied")
    assert [(e.entity, e.entity_id) for e in denied] == [("case", str(other.id))]
    await phone.tap("今天")  # the first visit form is still open, with its case
    await phone.wait_for_reply(lambda m: "到校约谈" in buttons(m))


async def test_a_photo_over_20_mb_is_refused_before_downloading() -> None:
    fetch = telegram_fetcher(bot=None)  # type: ignore[arg-type]
    with pytest.raises(PhotoRejected) as refused:
        await fetch(Photo("file-id", "unique-id", file_size=25_000_000, as_document=True))
    assert refused.value.reason == "too_large"


async def test_a_file_over_20_mb_is_refused_in_chat(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    huge = image() + bytes(21 * 1024 * 1024)  # a JPEG followed by padding: only its size matters
    await teacher.send_file(huge, "image/jpeg", "huge.jpg")
    refusal = await teacher.expect("太大", timeout=30)
    assert "20 MB" in refusal.text
    assert await attachments_of(services, open_case.id) == []


def test_every_photo_refusal_has_a_message_in_both_languages() -> None:
    for reason in ("too_large", "not_an_image", "unsupported_format", "too_many_pixels", "corrupt"):
        for language in ("zh_CN", "en"):
            assert t(language, REJECTION_KEYS[reason], max_mb=MAX_MB).strip()
    assert "20 MB" in t("en", REJECTION_KEYS["too_large"], max_mb=MAX_MB)


@pytest.mark.parametrize("channel", [TELEGRAM])  # reply keyboards are Telegram's
async def test_a_command_takes_the_location_keyboard_down_only_when_it_is_shown(
    person: PersonFactory, open_case: Case
) -> None:
    """Telegram cannot take a reply keyboard down with a message that has inline buttons: that costs a
    message of its own, so a command sends it only when a location step left the keyboard up."""
    teacher = await person("teacher_a")
    assert isinstance(teacher, TelegramPerson)
    await teacher.send("/visit")
    ask = await teacher.expect(lambda s: any(open_case.number in b for b in s.buttons))
    assert not RECEIVED & set(ask.text.splitlines())  # the prompt alone: no keyboard to take down
    await to_photos(teacher, open_case)
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.tap("完成")
    await teacher.expect("位置")
    await teacher.phone.refresh()
    assert teacher.phone.chat["reply_keyboard"] is not None
    await teacher.send("/visit")  # the form left at its location step
    ask = await teacher.expect(lambda s: any(open_case.number in b for b in s.buttons))
    assert t("zh_CN", "form.previous_discarded") in ask.text
    assert not RECEIVED & set(ask.text.splitlines())  # the notice took the keyboard down
    await teacher.phone.refresh()
    assert teacher.phone.chat["reply_keyboard"] is None


async def test_skipping_the_location_from_the_summary_asks_why(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.tap("完成")
    await teacher.expect("位置")
    await teacher.send_location(29.56, 106.55)
    await no_follow_up_nor_note(teacher)
    await teacher.tap("✏️ 修改")
    await teacher.expect(has("位置"))
    await teacher.tap("位置")
    await teacher.expect("当前的位置")
    await teacher.send("跳过")  # typed (on Telegram, tap() would find the note's older inline Skip first)
    await teacher.expect("为什么没有发送位置")
    await teacher.send("忘记打开定位")
    summary = await teacher.expect(has("✅ 提交"))
    assert "未发送" in summary.text and "忘记打开定位" in summary.text
    await teacher.tap("✖️ 取消")
    await teacher.expect("已取消")
    assert await visit_events(services, open_case.id) == []


@pytest.mark.parametrize(("who", "sees_case"), [("cadre_a", True), ("cadre_b", False), ("principal", True)])
async def test_the_case_list_follows_scope(
    person: PersonFactory, open_case: Case, who: str, sees_case: bool
) -> None:
    visitor = await person(who)
    await visitor.send("/visit")
    reply = await visitor.expect("家访")
    assert any(open_case.number in b for b in reply.buttons) == sees_case
    assert sees_case or "没有需要家访的个案" in reply.text


async def test_a_county_officer_is_not_offered_the_visit_form(person: PersonFactory) -> None:
    officer = await person("county")
    await officer.send("/visit")
    await officer.expect("不适用于您的角色")


async def test_a_phone_call_needs_no_photo_nor_location(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_outcome(teacher, open_case, mode="电话", met="无人应答")
    await teacher.tap("联系不上")
    ask = await teacher.expect("可以不附照片")
    assert "跳过" in ask.buttons
    await teacher.tap("跳过")
    await teacher.expect("下次跟进")  # no location asked for a call
    await teacher.tap("明天")
    await teacher.expect("补充")
    await teacher.tap("跳过")
    summary = await teacher.expect(has("✅ 提交"))
    assert "方式：电话" in summary.text and "照片：0 张" in summary.text
    assert "位置" not in summary.text
    assert_no_internal_words(summary.text)
    await teacher.tap("✅ 提交")
    await teacher.expect("家访已记录")
    [event] = await visit_events(services, open_case.id)
    tomorrow = services.clock.now().astimezone(services.tz).date() + timedelta(days=1)
    assert (event.data["mode"], event.data["attachments"], event.data["location"]) == ("phone", [], None)
    assert event.data["next_follow_up_on"] == tomorrow.isoformat() and event.data["met"] == "nobody"


async def no_follow_up_nor_note(teacher: Person) -> Said:
    """From the follow-up question to the summary: no next follow-up date, no note."""
    await teacher.expect("下次跟进")
    await teacher.tap("跳过")
    await teacher.expect("补充")
    await teacher.tap("跳过")
    return await teacher.expect(has("✅ 提交"))


async def from_a_video_call_to_home_visit_photos(teacher: Person, case: Case) -> Said:
    """A video call that skipped the photos, changed to a home visit from the summary: the photos are
    asked again, now needed."""
    await to_outcome(teacher, case, mode="视频")
    await teacher.tap("外出打工")
    await teacher.expect("可以不附照片")
    await teacher.tap("跳过")
    await no_follow_up_nor_note(teacher)
    await teacher.tap("✏️ 修改")
    await teacher.expect(has("方式"))
    await teacher.tap("方式")
    await teacher.expect(has("到校约谈"))
    await teacher.tap("入户家访")
    return await teacher.expect("家访照片")


async def test_a_home_visit_without_a_photo_is_refused(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    """A video call skipped the photos; changed to a home visit from the summary, it must have one."""
    teacher = await person("teacher_a")
    ask = await from_a_video_call_to_home_visit_photos(teacher, open_case)
    assert ask.buttons == []  # no Skip, no Done before the first photo
    await teacher.send("完成")  # typed instead: still no photo
    await teacher.expect("请发送照片")
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.tap("完成")
    await teacher.expect("当前的位置")  # a home visit asks where
    await teacher.send_location(29.56, 106.55)
    summary = await teacher.expect(has("✅ 提交"))
    assert "方式：入户家访" in summary.text and "1 张" in summary.text
    assert await visit_events(services, open_case.id) == []


async def forge(teacher: Person, services: Services, value: str) -> None:
    """A tampered Telegram client's button for the open form's current question, with any value."""
    assert isinstance(teacher, TelegramPerson)
    async with services.uow() as uow:
        draft = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert draft is not None
    await teacher.phone.press_callback(teacher.phone.last_message["message_id"], f"f:{draft.seq}:{value}")  # type: ignore[index]


@pytest.mark.parametrize("channel", [TELEGRAM])  # forged callback data: WeCom sends only its cards' keys
async def test_a_forged_done_before_the_first_photo_is_refused(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    await forge(teacher, services, "~done")
    await teacher.expect("至少需要 1 张")
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    await from_a_video_call_to_home_visit_photos(teacher, open_case)
    await forge(teacher, services, "~done")
    await teacher.expect("至少需要 1 张")
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.tap("完成")
    await teacher.expect("当前的位置")
    assert await attachments_of(services, open_case.id) != []


async def test_nobody_met_hides_agreed_and_refused(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    ask = await to_outcome(teacher, open_case, mode="电话", met="无人应答")
    assert "同意返校" not in ask.buttons and "拒绝返校" not in ask.buttons
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    # Met the guardian, who agreed; changed to nobody from the summary: the outcome is asked again.
    await to_outcome(teacher, open_case, mode="电话")
    await teacher.tap("同意返校")
    await teacher.expect("哪天返校")
    await teacher.send("后天")
    await teacher.expect("可以不附照片")
    await teacher.tap("跳过")
    await no_follow_up_nor_note(teacher)
    await teacher.tap("✏️ 修改")
    await teacher.expect(has("见到"))
    await teacher.tap("见到")
    await teacher.expect(has("无人应答"))
    await teacher.tap("无人应答")
    again = await teacher.expect(outcome_step)
    assert "同意返校" not in again.buttons and "拒绝返校" not in again.buttons
    await teacher.tap("联系不上")
    summary = await teacher.expect(has("✅ 提交"))
    assert "结果：联系不上" in summary.text and "承诺返校" not in summary.text
    await teacher.tap("✅ 提交")
    await teacher.expect("家访已记录")
    [event] = await visit_events(services, open_case.id)
    assert (event.data["met"], event.data["outcome"], event.data["promised_return_on"]) == (
        "nobody",
        "unreachable",
        None,
    )


@pytest.mark.parametrize("channel", [TELEGRAM])  # forged callback data: WeCom sends only its cards' keys
async def test_a_forged_outcome_that_nobody_met_hides_is_refused(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_outcome(teacher, open_case, mode="电话", met="无人应答")
    async with services.uow() as uow:
        before = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    await forge(teacher, services, "agreed_to_return")
    await teacher.expect("不可用")
    async with services.uow() as uow:
        after = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert before is not None and after is not None and after.answers == before.answers


@pytest.mark.parametrize("channel", [WECOM])  # WeCom's own risk: an older card, its buttons still live
async def test_an_older_cards_button_does_not_answer_the_current_question(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    assert isinstance(teacher, WeComPerson)
    await to_outcome(teacher, open_case, mode="电话")
    await teacher.tap("同意返校")
    await teacher.expect(has("明天"))
    dates = next(s for s in reversed(teacher.chat.since) if "明天" in labels(s))
    await teacher.send("后天")  # typed: the card of dates was never tapped
    await teacher.expect("可以不附照片")
    async with services.uow() as uow:
        before = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    await teacher.settled()
    await teacher.chat.tap_on(dates, "明天")
    stale = await teacher.expect("这个按钮已过时")
    assert "可以不附照片" in stale.text  # the question that is open now, asked again
    async with services.uow() as uow:
        after = await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel))
    assert before is not None and after is not None
    assert (after.step, after.answers) == (before.step, before.answers)


async def test_the_notice_is_offered_only_after_an_earlier_visit_and_in_person(
    person: PersonFactory, world: World, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_outcome(teacher, open_case, mode="到校约谈")
    await teacher.tap("拒绝返校")  # the dropout is confirmed, but this is the first visit: no notice yet
    ask = await teacher.expect("家访照片")
    assert "《劝返复学通知书》" not in ask.text
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    await log_earlier_visit(services, world, open_case, "refused")  # now a confirmed dropout, visited once
    await to_outcome(teacher, open_case, mode="电话")
    await teacher.tap("拒绝返校")
    ask = await teacher.expect("可以不附照片")  # not by phone either
    assert "《劝返复学通知书》" not in ask.text
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    await to_outcome(teacher, open_case, mode="到校约谈")
    await teacher.tap("拒绝返校")
    ask = await teacher.expect(has("已送达"))
    assert "《劝返复学通知书》" in ask.text
    await teacher.tap("已送达")
    await teacher.expect("家访照片")
    await send_and_count(teacher, 1, image("PNG"))
    await teacher.tap("完成")
    await teacher.expect("下次跟进")  # a talk at school: no location
    await teacher.tap("跳过")
    await teacher.expect("补充")
    await teacher.tap("跳过")
    await teacher.expect(has("✅ 提交"))
    await teacher.tap("✅ 提交")
    await teacher.expect("家访已记录")
    async with services.uow() as uow:
        case = await uow.cases.get(open_case.id)
    assert case is not None and case.status == CaseStatus.NOTICE_ISSUED


@pytest.mark.parametrize("sent", ["photo", "location"])
async def test_a_photo_or_location_with_no_form_open_points_to_visit(
    person: PersonFactory, services: Services, sent: str
) -> None:
    teacher = await person("teacher_a")
    if sent == "photo":
        await teacher.send_photo(image("JPEG"))
    else:
        await teacher.send_location(29.56, 106.55)
    hint = await teacher.expect("/visit")
    assert "没有看懂" not in hint.text and "没有保存" in hint.text
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None


async def test_an_english_phone_call_reads_in_english(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a", language_code="en")
    await teacher.send("/visit")
    ask = await teacher.expect(lambda s: any(open_case.number in b for b in s.buttons))
    assert asked(ask).startswith("(1/13) Which case")
    await teacher.tap(ask.button(open_case.number))
    await teacher.expect(has("Today"))
    await teacher.send("yesterday")
    await teacher.expect(has("Talk at school"))
    await teacher.tap("Phone call")
    await teacher.expect(has("Done"))
    await teacher.tap("Done")
    await teacher.expect(has("Nobody answered"))
    await teacher.tap("Guardian")
    await teacher.expect(has("Working away"))
    await teacher.tap("Working away")
    await teacher.expect("needs no photo")
    await teacher.tap("Skip")
    await teacher.expect(has("In a week"))
    await teacher.tap("In a week")
    await teacher.expect("Anything to add")
    await teacher.tap("Skip")
    summary = await teacher.expect(has("✅ Submit"))
    for line in ("How: Phone call", "Met: Guardian", "Outcome: Working away", "Next follow-up: 2026-10-20"):
        assert line in summary.text
    assert "_" not in summary.text


def camera_file(gps: tuple[float, float]) -> bytes:
    """A phone's JPEG as sent "as a file": GPS position, camera make and capture time in its EXIF."""
    from PIL.ExifTags import GPS, IFD, Base

    exif = Image.Exif()
    exif[Base.Make] = "AcmePhone"
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = "2026:10:13 08:30:00"
    info = exif.get_ifd(IFD.GPSInfo)
    info.update({GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (gps[0], 0.0, 0.0)})
    info.update({GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (gps[1], 0.0, 0.0)})
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 60, 30)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_a_photo_file_is_stored_without_its_location_but_the_record_keeps_it(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    data = camera_file((29.0, 106.0))
    await send_and_count(teacher, 1, data, "家访.jpg", "image/jpeg")
    await send_and_count(teacher, 1, data, "家访-再发一次.jpg", "image/jpeg")  # the same photo sent twice
    [row] = await attachments_of(services, open_case.id)
    assert row.received_sha256 == sha(data) != row.sha256
    assert (row.exif_latitude, row.exif_longitude) == (29.0, 106.0) and row.exif_taken_at is not None
    stored = await services.media.get(row.sha256)
    original = Image.open(io.BytesIO(stored))
    assert IFD_GPS not in original.getexif() and b"AcmePhone" not in stored
    assert original.size == (640, 480)
    assert not await services.media.exists(sha(data))  # the file as received is not kept


IFD_GPS = 0x8825


@pytest.mark.parametrize(
    ("fmt", "name", "mime"),
    [("GIF", "anim.gif", "image/gif"), ("BMP", "scan.bmp", "image/bmp"), ("TIFF", "scan.tiff", "image/tiff")],
)
async def test_a_gif_bmp_or_tiff_file_is_an_unsupported_format_not_a_non_image(
    person: PersonFactory, services: Services, open_case: Case, fmt: str, name: str, mime: str
) -> None:
    teacher = await person("teacher_a")
    await to_photos(teacher, open_case)
    await teacher.send_file(image(fmt), mime, name)
    refused = await teacher.expect(lambda s: "不支持" in s.text or "不是图片" in s.text)
    assert "不支持这种图片格式" in refused.text
    assert await attachments_of(services, open_case.id) == []


async def test_a_visit_submitted_after_the_return_was_confirmed_ends_with_what_to_do_instead(
    person: PersonFactory, services: Services, open_case: Case
) -> None:
    """Not "check and resubmit" on every try: the case is back at school, there is nothing to visit."""
    teacher = await person("teacher_a")
    await to_outcome(teacher, open_case, mode="电话", met="无人应答")
    await teacher.tap("联系不上")
    await teacher.expect("可以不附照片")
    await teacher.tap("跳过")
    await teacher.expect("下次跟进")
    await teacher.tap("明天")
    await teacher.expect("补充")
    await teacher.tap("跳过")
    await teacher.expect(has("✅ 提交"))
    async with services.uow() as uow:  # meanwhile a colleague confirms the return
        staff = await uow.directory.staff(open_case.responsible_teacher_id or 0)
        assert staff is not None
        today = services.clock.now().astimezone(services.tz).date()
        await confirm_return(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            ReturnReport(open_case.id, today, "seen_in_class"),
            now=services.clock.now(),
            policy=services.policy,
            tz=services.tz,
        )
        await uow.commit()
    await teacher.tap("✅ 提交")
    refused = await teacher.expect("不需要再家访")
    assert "/mycases" in refused.text and "/visit" not in refused.text
    assert_no_internal_words(refused.text)
    assert await visit_events(services, open_case.id) == []
    async with services.uow() as uow:  # the form is over: no submit to tap again
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None
