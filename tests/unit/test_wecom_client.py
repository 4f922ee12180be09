"""The WeCom API client against the emulator over HTTP on 127.0.0.1: the shared token, its refresh,
retries, and the errors a caller acts on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.wecom.api import App, RetryPolicy, WeComClient
from bot.wecom.cards import button_card
from bot.wecom.errors import (
    MediaTooLarge,
    RateLimited,
    SystemBusy,
    UnreachableMember,
    WeComApiError,
    WeComUnavailable,
)
from bot.wecom.text_split import TEXT_LIMIT
from bot.wecom.tokens import CachedToken, DatabaseTokenStore, TokenStore
from domain.clock import FixedClock
from sandbox.wecom import Member, WeComEmulator
from storage.uow import UnitOfWorkFactory

FAST = RetryPolicy(attempts=3, first_wait=0.01, max_wait=0.05, timeout=1.0)


class FakeTokenStore:
    """The access_tokens table in memory."""

    def __init__(self) -> None:
        self.rows: dict[str, CachedToken] = {}

    async def load(self, key: str) -> CachedToken | None:
        return self.rows.get(key)

    async def save(self, key: str, token: CachedToken, refreshed_at: datetime) -> None:
        self.rows[key] = token


@pytest.fixture
async def wecom() -> AsyncIterator[WeComEmulator]:
    async with WeComEmulator() as emu:
        yield emu


@pytest.fixture
def teacher(wecom: WeComEmulator) -> Member:
    return wecom.add_member("zhangsan")


@pytest.fixture
def now() -> FixedClock:
    return FixedClock(datetime.now(UTC))


def client_of(wecom: WeComEmulator, store: TokenStore, clock: FixedClock) -> WeComClient:
    app = App(wecom.state.corp_id, wecom.state.agent_id, wecom.state.secret)
    return WeComClient(app, base_url=wecom.api_base_url, tokens=store, clock=clock, retry=FAST)


@pytest.fixture
async def client(wecom: WeComEmulator, now: FixedClock) -> AsyncIterator[WeComClient]:
    async with client_of(wecom, FakeTokenStore(), now) as c:
        yield c


async def test_a_text_reaches_the_member(client: WeComClient, teacher: Member, wecom: WeComEmulator) -> None:
    await client.send_text("zhangsan", "请登记王小明今天的缺课。")
    assert [m.text for m in teacher.received] == ["请登记王小明今天的缺课。"]
    assert wecom.state.calls["gettoken"] == 1


async def test_two_clients_on_one_database_fetch_the_token_once(
    wecom: WeComEmulator, teacher: Member, uow_factory: UnitOfWorkFactory, now: FixedClock
) -> None:
    async with client_of(wecom, DatabaseTokenStore(uow_factory), now) as first:
        await first.send_text("zhangsan", "一")
    async with client_of(wecom, DatabaseTokenStore(uow_factory), now) as second:
        await second.send_text("zhangsan", "二")
    assert wecom.state.calls["gettoken"] == 1
    assert [m.text for m in teacher.received] == ["一", "二"]


async def test_a_refused_token_is_refreshed_and_the_call_made_once_more(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    await client.send_text("zhangsan", "一")
    wecom.expire_tokens()  # WeCom may end a token early: the next call answers 42001
    await client.send_text("zhangsan", "二")
    assert wecom.state.calls["gettoken"] == 2
    assert wecom.state.calls["message/send"] == 3
    assert [m.text for m in teacher.received] == ["一", "二"]


async def test_a_token_expiring_within_five_minutes_is_refreshed_before_use(
    client: WeComClient, teacher: Member, wecom: WeComEmulator, now: FixedClock
) -> None:
    await client.send_text("zhangsan", "一")
    now.advance(timedelta(seconds=7200 - 299))
    await client.send_text("zhangsan", "二")
    assert wecom.state.calls["gettoken"] == 2
    assert wecom.state.calls["message/send"] == 2


async def test_system_busy_is_retried(client: WeComClient, teacher: Member, wecom: WeComEmulator) -> None:
    wecom.faults.inject("message/send", "busy", count=2)
    await client.send_text("zhangsan", "一")
    assert wecom.state.calls["message/send"] == 3
    assert [m.text for m in teacher.received] == ["一"]


async def test_system_busy_that_lasts_is_raised_after_the_attempts(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    wecom.faults.inject("message/send", "busy", count=5)
    with pytest.raises(SystemBusy):
        await client.send_text("zhangsan", "一")
    assert wecom.state.calls["message/send"] == FAST.attempts


async def test_server_errors_and_timeouts_are_retried(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    wecom.faults.inject("message/send", "500")
    await client.send_text("zhangsan", "一")
    media_id = await client.upload_media("image", "photo.jpg", b"\xff\xd8 jpeg", "image/jpeg")
    wecom.faults.inject("media/get", "timeout", delay=FAST.timeout + 0.5)
    assert await client.download_media(media_id) == b"\xff\xd8 jpeg"
    assert (wecom.state.calls["message/send"], wecom.state.calls["media/get"]) == (2, 2)
    wecom.faults.inject("media/get", "500", count=FAST.attempts)
    with pytest.raises(WeComUnavailable):
        await client.download_media(media_id)


async def test_an_unknown_member_is_unreachable_at_once(client: WeComClient, wecom: WeComEmulator) -> None:
    with pytest.raises(UnreachableMember):
        await client.send_text("left-the-school", "一")
    assert wecom.state.calls["message/send"] == 1


async def test_a_rate_limit_is_raised_without_retrying(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    wecom.faults.inject("message/send", "rate_limit")
    with pytest.raises(RateLimited) as raised:
        await client.send_text("zhangsan", "一")
    assert raised.value.errcode == 45009
    assert wecom.state.calls["message/send"] == 1
    assert teacher.received == []


async def test_a_long_text_arrives_whole_in_messages_under_the_limit(
    client: WeComClient, teacher: Member
) -> None:
    text = "\n".join(f"{i:03d} 三年级二班 王小明 缺课两天，已家访，家长承诺下周一返校。" for i in range(150))
    await client.send_text("zhangsan", text)
    parts = [m.text for m in teacher.received]
    assert len(parts) > 1
    assert all(len(p.encode()) <= TEXT_LIMIT for p in parts)
    assert "\n".join(parts) == text


async def test_a_card_is_updated_once_with_its_response_code(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    card = button_card("task-1", "王小明今天来上学了吗？", [("yes", "来了"), ("no", "没来")])
    sent = await client.send_card("zhangsan", card)
    assert teacher.received[0].body["template_card"]["button_list"][1]["key"] == "no"
    await client.update_card_buttons("zhangsan", sent.response_code, "已回答：来了")
    assert wecom.state.card_updates[0]["button"] == {"replace_name": "已回答：来了"}
    with pytest.raises(WeComApiError):
        await client.update_card_buttons("zhangsan", sent.response_code, "again")


async def test_a_response_code_expires_after_72_hours(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    sent = await client.send_card("zhangsan", button_card("task-2", "?", [("ok", "好")]))
    wecom.advance(72 * 3600 + 1)
    wecom.expire_tokens()
    with pytest.raises(WeComApiError):
        await client.update_card_buttons("zhangsan", sent.response_code, "已回答")
    assert wecom.state.card_updates == []


async def test_a_file_is_uploaded_sent_and_downloaded(
    client: WeComClient, teacher: Member, wecom: WeComEmulator
) -> None:
    media_id = await client.upload_media(
        "file", "月报.xlsx", b"PK\x03\x04 workbook", "application/vnd.ms-excel"
    )
    await client.send_file("zhangsan", media_id)
    assert teacher.received[0].body == {"file": {"media_id": media_id}}
    assert wecom.state.media[media_id].filename == "月报.xlsx"
    assert await client.download_media(media_id) == b"PK\x03\x04 workbook"
    with pytest.raises(WeComApiError) as raised:
        await client.download_media("no-such-media")
    assert raised.value.errcode == 40007


@pytest.mark.parametrize("data", [b"just some notes", b'{"note": "a JSON file"}', b"{}"])
async def test_a_text_file_served_as_text_plain_is_the_file_not_an_error(
    client: WeComClient, data: bytes
) -> None:
    """media/get answers errors as JSON, sometimes as text/plain; a member's text file is text/plain too."""
    media_id = await client.upload_media("file", "notes.txt", data, "text/plain")
    assert await client.download_media(media_id) == data


async def test_a_download_past_the_limit_is_refused_and_one_at_it_is_kept(client: WeComClient) -> None:
    """A member's 21 MB "photo" is refused by its size, not read whole into the process first."""
    media_id = await client.upload_media("image", "big.jpg", b"\xff\xd8" + b"x" * 998, "image/jpeg")
    assert len(await client.download_media(media_id, limit=1000)) == 1000
    with pytest.raises(MediaTooLarge):
        await client.download_media(media_id, limit=999)
