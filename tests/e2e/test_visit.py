"""/visit end to end: how the visit took place, photos (as photos and as files) and location for home visits,
follow-up questions, the notice after an earlier visit, the next follow-up date, every refusal."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from telegram.ext import Application

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
from sandbox.phone import Phone
from storage.models import Attachment, Case
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.texts import assert_no_internal_words
from tests.factories import World

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


def outcome_step(m: dict) -> bool:  # type: ignore[type-arg]
    return "外出打工" in buttons(m)


async def to_outcome(
    phone: Phone, case: Case, *, mode: str = "入户家访", met: str = "监护人", colleague: str | None = None
) -> dict:  # type: ignore[type-arg]
    """/visit → case → today → mode → (colleague) → met; leaves the outcome question open."""
    await phone.send("/visit")
    ask = await phone.wait_for_reply(lambda m: any(case.number in b for b in buttons(m)))
    await phone.tap(next(b for b in buttons(ask) if case.number in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("今天")
    await phone.wait_for_reply(lambda m: "到校约谈" in buttons(m))
    await phone.tap(mode)
    await phone.wait_for_reply(lambda m: "完成" in buttons(m) and "自动记入" in m["text"])
    if colleague:
        await phone.tap(f"▫️ {colleague}")
        await phone.wait_for_reply(lambda m: f"✅ {colleague}" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "无人应答" in buttons(m))
    await phone.tap(met)
    return await phone.wait_for_reply(outcome_step)


async def to_photos(phone: Phone, case: Case, outcome: str = "联系不上") -> None:
    await to_outcome(phone, case)
    await phone.tap(outcome)
    await phone.wait_for_reply(lambda m: "家访照片" in m["text"])


async def send_and_count(
    phone: Phone, n: int, data: bytes, name: str = "p.png", mime: str = "image/png"
) -> None:
    await phone.send_document(data, name, mime)
    await phone.wait_for_reply(lambda m: f"已收到 {n}/5" in m["text"])


async def test_visit_with_two_photos_and_a_location_is_logged_once(
    polling_bot: Application,
    bound: BindFactory,
    world: World,
    services: Services,
    open_case: Case,
    emulator: Emulator,
) -> None:
    await log_earlier_visit(services, world, open_case)
    phone = await bound("teacher_a")
    await to_outcome(phone, open_case, colleague="刘主任（村干部）")
    await phone.tap("拒绝返校")
    notice = await phone.wait_for_reply(lambda m: "未送达" in buttons(m))
    assert "哪天返校" not in notice["text"]  # the promised date belongs to "agreed to return" only
    assert "《劝返复学通知书》" in notice["text"]
    await phone.tap("已送达")
    await phone.wait_for_reply(lambda m: "家访照片" in m["text"] and not buttons(m))
    sent = await phone.send_photo(image("JPEG"))
    await phone.wait_for_reply(lambda m: "已收到 1/5" in m["text"])
    png = image("PNG", color=(30, 160, 90))
    await send_and_count(phone, 2, png, "门口.png")
    provisional = {a.sha256: a.evidence_sha256 for a in await attachments_of(services, open_case.id)}
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "位置" in m["text"])
    await phone.tap("📍 发送当前位置", location=(29.5630123, 106.5515567))
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"] and "一周后" in buttons(m))
    await phone.send("下周一")  # as people say it
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m) and "补充" in m["text"])
    await phone.send("家长态度坚决，已讲解义务教育法")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
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
        assert expected in summary["text"]
    assert_no_internal_words(summary["text"])
    await phone.tap("✅ 提交")
    done = await phone.wait_for_reply(lambda m: "家访已记录" in m["text"])
    assert "已送达《劝返复学通知书》" in done["text"] and "下次跟进：2026-10-19" in done["text"]
    assert_no_internal_words(done["text"])

    event = (await visit_events(services, open_case.id))[-1]
    assert event.data["location"] == {"lat": 29.563012, "lon": 106.551557}
    assert (event.data["mode"], event.data["next_follow_up_on"]) == ("home", "2026-10-19")
    assert event.data["visitors"] == sorted([world.staff["teacher_a"].id, world.staff["cadre_a"].id])
    photos = await attachments_of(services, open_case.id)
    assert len(photos) == 2 and all(a.event_id == event.id for a in photos)
    stored = emulator.registry.files.get(sent["photo"][-1]["file_id"])
    assert stored is not None
    photo_bytes = stored.data  # what getFile serves
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
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_photos(phone, open_case)
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    await phone.press_callback(phone.last_message["message_id"], f"f:{seq}:~done")  # type: ignore[index]
    assert "至少需要 1 张" in (await phone.wait_for_reply(lambda m: "至少" in m["text"]))["text"]
    attempts: list[tuple[Callable[[], Awaitable[object]], str]] = [
        (phone.send_sticker, "请发送照片"),
        (phone.send_voice, "请发送照片"),
        (lambda: phone.send("照片在这里"), "请发送照片"),
        (lambda: phone.send_document(b"just some notes", "notes.txt", "text/plain"), "不是图片"),
        (lambda: phone.send_document(b"just some notes", "fake.jpg", "image/jpeg"), "不是图片"),
        (lambda: phone.send_document(image()[:1500], "cut.jpg", "image/jpeg"), "已损坏"),
        (lambda: phone.send_document(image("GIF"), "anim.jpg", "image/jpeg"), "不支持这种图片格式"),
    ]
    for send, expected in attempts:
        await send()
        await phone.wait_for_reply(lambda m, e=expected: e in m["text"])  # type: ignore[misc]
    assert await attachments_of(services, open_case.id) == []
    first = image("PNG", color=(1, 2, 3))
    await send_and_count(phone, 1, first)
    await send_and_count(phone, 1, first, "again.png")  # the same picture again is not counted twice
    for n in range(2, 6):
        await send_and_count(phone, n, image("PNG", color=(10 * n, 20, 30)))
    await phone.send_document(image("PNG", color=(250, 250, 250)), "six.png", "image/png")
    assert "最多 5 张" in (await phone.wait_for_reply(lambda m: "最多" in m["text"]))["text"]
    assert len(await attachments_of(services, open_case.id)) == 5


async def test_dates_and_follow_up_questions(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/visit")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    assert ask["text"].startswith("（1/13）")  # how many questions at most, until the answers tell
    await phone.tap(next(b for b in buttons(ask) if open_case.number in b))
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send("2099-01-01")
    assert "不能晚于今天" in (await phone.wait_for_reply(lambda m: "今天" not in buttons(m)))["text"]
    assert open_case.first_absent_on is not None
    before = open_case.first_absent_on - timedelta(days=1)
    await phone.send(before.isoformat())
    await phone.wait_for_reply(lambda m: "不能早于" in m["text"])
    await phone.tap("今天")
    await phone.wait_for_reply(lambda m: "到校约谈" in buttons(m))
    await phone.tap("入户家访")
    await phone.wait_for_reply(lambda m: "自动记入" in m["text"])
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "无人应答" in buttons(m))
    await phone.tap("监护人和学生")
    await phone.wait_for_reply(lambda m: "同意返校" in buttons(m))
    await phone.tap("同意返校")
    ask = await phone.wait_for_reply(lambda m: "哪天返校" in m["text"])
    assert "明天" in buttons(ask)
    today = services.clock.now().astimezone(services.tz).date()
    await phone.send((today + timedelta(days=90)).isoformat())
    await phone.wait_for_reply(lambda m: "60 天以内" in m["text"])
    await phone.send("明天")  # a future date is right here, said as people say it
    promised = today + timedelta(days=1)
    # An absent pupil who agreed to return is no dropout: the notice is not even asked.
    photos = await phone.wait_for_reply(lambda m: "家访照片" in m["text"])
    assert "未送达" not in buttons(photos)
    await send_and_count(phone, 1, image("PNG"))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "位置" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "为什么没有发送位置" in m["text"] and "跳过" not in buttons(m))
    await phone.send("山里没有信号")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])
    await phone.send("今天")  # the next follow-up comes after the visit
    await phone.wait_for_reply(lambda m: "不能早于" in m["text"])
    await phone.send((today + timedelta(days=61)).isoformat())
    await phone.wait_for_reply(lambda m: "60 天以内" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    for expected in (promised.isoformat(), "山里没有信号", "下次跟进：按默认间隔", "方式：入户家访"):
        assert expected in summary["text"]
    assert_no_internal_words(summary["text"])
    assert "（" not in summary["text"].splitlines()[0]  # the summary is no numbered question
    # Changing the outcome from the summary asks its own follow-up, then comes back to the summary.
    await phone.tap("✏️ 修改")
    await phone.wait_for_reply(lambda m: "结果" in buttons(m))
    await phone.tap("结果")
    await phone.wait_for_reply(lambda m: "其他" in buttons(m))
    await phone.tap("其他")
    await phone.wait_for_reply(lambda m: "简要说明情况" in m["text"])
    await phone.send("孩子随奶奶去了县城")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "孩子随奶奶去了县城" in summary["text"] and promised.isoformat() not in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "家访已记录" in m["text"])
    [event] = await visit_events(services, open_case.id)
    assert (event.data["outcome"], event.data["outcome_detail"]) == ("other", "孩子随奶奶去了县城")
    assert event.data["promised_return_on"] is None and event.data["location"] is None
    assert event.data["no_location_reason"] == "山里没有信号" and event.data["note"] is None
    assert event.data["next_follow_up_on"] is None


async def test_cancel_at_the_photo_step_logs_no_visit(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_photos(phone, open_case)
    await send_and_count(phone, 1, image("PNG"))
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    assert await visit_events(services, open_case.id) == []
    [orphan] = await attachments_of(services, open_case.id)  # kept, but linked to no visit
    assert orphan.event_id is None
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


async def test_a_visit_button_jumps_to_the_date_but_not_for_someone_elses_case(
    polling_bot: Application, bound: BindFactory, world: World, services: Services, open_case: Case
) -> None:
    other = await open_case_for(services, world, "teacher_b", "class_b")
    phone = await bound("teacher_a")
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
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_photos(phone, open_case)
    huge = image() + bytes(21 * 1024 * 1024)  # a JPEG followed by padding: only its size matters
    await phone.send_document(huge, "huge.jpg", "image/jpeg")
    refusal = await phone.wait_for_reply(lambda m: "太大" in m["text"], timeout=30)
    assert "20 MB" in refusal["text"]
    assert await attachments_of(services, open_case.id) == []


def test_every_photo_refusal_has_a_message_in_both_languages() -> None:
    for reason in ("too_large", "not_an_image", "unsupported_format", "too_many_pixels", "corrupt"):
        for language in ("zh_CN", "en"):
            assert t(language, REJECTION_KEYS[reason], max_mb=MAX_MB).strip()
    assert "20 MB" in t("en", REJECTION_KEYS["too_large"], max_mb=MAX_MB)


async def test_skipping_the_location_from_the_summary_asks_why(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_photos(phone, open_case)
    await send_and_count(phone, 1, image("PNG"))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "位置" in m["text"])
    await phone.send_location(29.56, 106.55)
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✏️ 修改")
    await phone.wait_for_reply(lambda m: "位置" in buttons(m))
    await phone.tap("位置")
    await phone.wait_for_reply(lambda m: "当前的位置" in m["text"])
    await phone.send("跳过")  # the reply-keyboard key (tap() would find the note's older inline Skip first)
    await phone.wait_for_reply(lambda m: "为什么没有发送位置" in m["text"])
    await phone.send("忘记打开定位")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "未发送" in summary["text"] and "忘记打开定位" in summary["text"]
    await phone.tap("✖️ 取消")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    assert await visit_events(services, open_case.id) == []


@pytest.mark.parametrize(("who", "sees_case"), [("cadre_a", True), ("cadre_b", False), ("principal", True)])
async def test_the_case_list_follows_scope(
    polling_bot: Application, bound: BindFactory, open_case: Case, who: str, sees_case: bool
) -> None:
    phone = await bound(who)
    await phone.send("/visit")
    reply = await phone.wait_for_reply(lambda m: "家访" in m["text"])
    assert any(open_case.number in b for b in buttons(reply)) == sees_case
    assert sees_case or "没有需要家访的个案" in reply["text"]


async def test_a_county_officer_is_not_offered_the_visit_form(
    polling_bot: Application, bound: BindFactory
) -> None:
    phone = await bound("county")
    await phone.send("/visit")
    await phone.wait_for_reply(lambda m: "不适用于您的角色" in m["text"])


async def test_a_phone_call_needs_no_photo_nor_location(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_outcome(phone, open_case, mode="电话", met="无人应答")
    await phone.tap("联系不上")
    ask = await phone.wait_for_reply(lambda m: "可以不附照片" in m["text"])
    assert "跳过" in buttons(ask)
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])  # no location asked for a call
    await phone.tap("明天")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "方式：电话" in summary["text"] and "照片：0 张" in summary["text"]
    assert "位置" not in summary["text"]
    assert_no_internal_words(summary["text"])
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "家访已记录" in m["text"])
    [event] = await visit_events(services, open_case.id)
    tomorrow = services.clock.now().astimezone(services.tz).date() + timedelta(days=1)
    assert (event.data["mode"], event.data["attachments"], event.data["location"]) == ("phone", [], None)
    assert event.data["next_follow_up_on"] == tomorrow.isoformat() and event.data["met"] == "nobody"


async def test_a_home_visit_without_a_photo_is_refused(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    """A video call skipped the photos; changed to a home visit from the summary, it must have one."""
    phone = await bound("teacher_a")
    await to_outcome(phone, open_case, mode="视频")
    await phone.tap("外出打工")
    await phone.wait_for_reply(lambda m: "可以不附照片" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✏️ 修改")
    await phone.wait_for_reply(lambda m: "方式" in buttons(m))
    await phone.tap("方式")
    await phone.wait_for_reply(lambda m: "到校约谈" in buttons(m))
    await phone.tap("入户家访")
    ask = await phone.wait_for_reply(lambda m: "家访照片" in m["text"])
    assert buttons(ask) == []  # no Skip, no Done before the first photo
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    await phone.press_callback(ask["message_id"], f"f:{seq}:~done")  # a forged Done
    await phone.wait_for_reply(lambda m: "至少需要 1 张" in m["text"])
    await send_and_count(phone, 1, image("PNG"))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "当前的位置" in m["text"])  # a home visit asks where
    await phone.send_location(29.56, 106.55)
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "方式：入户家访" in summary["text"] and "1 张" in summary["text"]
    assert await visit_events(services, open_case.id) == []


async def test_nobody_met_hides_agreed_and_refused(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    ask = await to_outcome(phone, open_case, mode="电话", met="无人应答")
    assert "同意返校" not in buttons(ask) and "拒绝返校" not in buttons(ask)
    async with services.uow() as uow:
        seq = (await uow.drafts.get(await draft_key(uow, phone.user_id))).seq  # type: ignore[union-attr]
    await phone.press_callback(ask["message_id"], f"f:{seq}:agreed_to_return")  # a forged choice
    await phone.wait_for_reply(lambda m: "不可用" in m["text"])
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    # Met the guardian, who agreed; changed to nobody from the summary: the outcome is asked again.
    await to_outcome(phone, open_case, mode="电话")
    await phone.tap("同意返校")
    await phone.wait_for_reply(lambda m: "哪天返校" in m["text"])
    await phone.send("后天")
    await phone.wait_for_reply(lambda m: "可以不附照片" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✏️ 修改")
    await phone.wait_for_reply(lambda m: "见到" in buttons(m))
    await phone.tap("见到")
    await phone.wait_for_reply(lambda m: "无人应答" in buttons(m))
    await phone.tap("无人应答")
    again = await phone.wait_for_reply(outcome_step)
    assert "同意返校" not in buttons(again) and "拒绝返校" not in buttons(again)
    await phone.tap("联系不上")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "结果：联系不上" in summary["text"] and "承诺返校" not in summary["text"]
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "家访已记录" in m["text"])
    [event] = await visit_events(services, open_case.id)
    assert (event.data["met"], event.data["outcome"], event.data["promised_return_on"]) == (
        "nobody",
        "unreachable",
        None,
    )


async def test_the_notice_is_offered_only_after_an_earlier_visit_and_in_person(
    polling_bot: Application, bound: BindFactory, world: World, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_outcome(phone, open_case, mode="到校约谈")
    await phone.tap("拒绝返校")  # the dropout is confirmed, but this is the first visit: no notice yet
    ask = await phone.wait_for_reply(lambda m: "家访照片" in m["text"])
    assert "《劝返复学通知书》" not in ask["text"]
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    await log_earlier_visit(services, world, open_case, "refused")  # now a confirmed dropout, visited once
    await to_outcome(phone, open_case, mode="电话")
    await phone.tap("拒绝返校")
    ask = await phone.wait_for_reply(lambda m: "可以不附照片" in m["text"])  # not by phone either
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    await to_outcome(phone, open_case, mode="到校约谈")
    await phone.tap("拒绝返校")
    ask = await phone.wait_for_reply(lambda m: "已送达" in buttons(m))
    assert "《劝返复学通知书》" in ask["text"]
    await phone.tap("已送达")
    await phone.wait_for_reply(lambda m: "家访照片" in m["text"])
    await send_and_count(phone, 1, image("PNG"))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])  # a talk at school: no location
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await phone.tap("✅ 提交")
    await phone.wait_for_reply(lambda m: "家访已记录" in m["text"])
    async with services.uow() as uow:
        case = await uow.cases.get(open_case.id)
    assert case is not None and case.status == CaseStatus.NOTICE_ISSUED


@pytest.mark.parametrize("sent", ["photo", "location"])
async def test_a_photo_or_location_with_no_form_open_points_to_visit(
    polling_bot: Application, bound: BindFactory, services: Services, sent: str
) -> None:
    phone = await bound("teacher_a")
    if sent == "photo":
        await phone.send_photo(image("JPEG"))
    else:
        await phone.send_location(29.56, 106.55)
    hint = await phone.wait_for_reply(lambda m: "/visit" in m["text"])
    assert "没有看懂" not in hint["text"] and "没有保存" in hint["text"]
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None


async def test_an_english_phone_call_reads_in_english(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a", language_code="en")
    await phone.send("/visit")
    ask = await phone.wait_for_reply(lambda m: any(open_case.number in b for b in buttons(m)))
    assert ask["text"].startswith("(1/13) Which case")
    await phone.tap(next(b for b in buttons(ask) if open_case.number in b))
    await phone.wait_for_reply(lambda m: "Today" in buttons(m))
    await phone.send("yesterday")
    await phone.wait_for_reply(lambda m: "Talk at school" in buttons(m))
    await phone.tap("Phone call")
    await phone.wait_for_reply(lambda m: "Done" in buttons(m))
    await phone.tap("Done")
    await phone.wait_for_reply(lambda m: "Nobody answered" in buttons(m))
    await phone.tap("Guardian")
    await phone.wait_for_reply(lambda m: "Working away" in buttons(m))
    await phone.tap("Working away")
    await phone.wait_for_reply(lambda m: "needs no photo" in m["text"])
    await phone.tap("Skip")
    await phone.wait_for_reply(lambda m: "In a week" in buttons(m))
    await phone.tap("In a week")
    await phone.wait_for_reply(lambda m: "Anything to add" in m["text"])
    await phone.tap("Skip")
    summary = await phone.wait_for_reply(lambda m: "✅ Submit" in buttons(m))
    for line in ("How: Phone call", "Met: Guardian", "Outcome: Working away", "Next follow-up: 2026-10-20"):
        assert line in summary["text"]
    assert "_" not in summary["text"]


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
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    phone = await bound("teacher_a")
    await to_photos(phone, open_case)
    data = camera_file((29.0, 106.0))
    await send_and_count(phone, 1, data, "家访.jpg", "image/jpeg")
    await send_and_count(phone, 1, data, "家访-再发一次.jpg", "image/jpeg")  # the same photo sent twice
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
    polling_bot: Application,
    bound: BindFactory,
    services: Services,
    open_case: Case,
    fmt: str,
    name: str,
    mime: str,
) -> None:
    phone = await bound("teacher_a")
    await to_photos(phone, open_case)
    await phone.send_document(image(fmt), name, mime)
    refused = await phone.wait_for_reply(lambda m: "不支持" in m["text"] or "不是图片" in m["text"])
    assert "不支持这种图片格式" in refused["text"]
    assert await attachments_of(services, open_case.id) == []


async def test_a_visit_submitted_after_the_return_was_confirmed_ends_with_what_to_do_instead(
    polling_bot: Application, bound: BindFactory, services: Services, open_case: Case
) -> None:
    """Not "check and resubmit" on every try: the case is back at school, there is nothing to visit."""
    phone = await bound("teacher_a")
    await to_outcome(phone, open_case, mode="电话", met="无人应答")
    await phone.tap("联系不上")
    await phone.wait_for_reply(lambda m: "可以不附照片" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "下次跟进" in m["text"])
    await phone.tap("明天")
    await phone.wait_for_reply(lambda m: "补充" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
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
    await phone.tap("✅ 提交")
    refused = await phone.wait_for_reply(lambda m: "不需要再家访" in m["text"])
    assert "/mycases" in refused["text"] and "/visit" not in refused["text"]
    assert_no_internal_words(refused["text"])
    assert await visit_events(services, open_case.id) == []
    async with services.uow() as uow:
        assert (
            await uow.drafts.get(await draft_key(uow, phone.user_id)) is None
        )  # the form is over: no submit to tap again
