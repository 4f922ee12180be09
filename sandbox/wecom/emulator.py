"""WeComEmulator: a local WeCom server API for one self-built app, simulated members who write to the
product's callback URL, and fault switches. Listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Self

import uvicorn

from bot.wecom.crypto import WeComCipher, parse_encoding_aes_key
from sandbox.wecom.faults import Faults
from sandbox.wecom.members import ANSWER_TIMEOUT, Delivery, Member, XmlFields, post_callback, to_xml
from sandbox.wecom.server import build_app
from sandbox.wecom.state import AppState

START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: whoever hosts the emulator (a test, the demo's run) stops it;
    uvicorn's would take SIGTERM from the host and stop the emulator first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def fake_encoding_aes_key() -> str:
    """A random EncodingAESKey (43 base64 characters), as the admin console's 随机获取 makes one."""
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


class WeComEmulator:
    """`await emu.start()`; point the product at `emu.api_base_url` and `emu.connect(callback_url)`."""

    def __init__(
        self,
        *,
        corp_id: str = "wwemu0000000000001",
        agent_id: int = 1000002,
        secret: str | None = None,
        token: str | None = None,
        encoding_aes_key: str | None = None,
        now: Callable[[], float] = time.time,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self.state = AppState(corp_id, agent_id, secret or "emu-secret-" + secrets.token_hex(8))
        self.token = token or "emu" + secrets.token_hex(6)
        self.encoding_aes_key = encoding_aes_key or fake_encoding_aes_key()
        self.cipher = WeComCipher(parse_encoding_aes_key(self.encoding_aes_key), corp_id)
        self.faults = Faults()
        self.deliveries: list[Delivery] = []
        self.callback_url: str | None = None
        self._callbacks: Iterator[str] | None = None
        self.answer_timeout = answer_timeout
        self._now, self._offset = now, 0.0
        self._msgids = itertools.count(7_000_000_000_000_000_001)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._url: str | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    async def start(self, port: int = 0) -> str:
        """Serves on 127.0.0.1 (port 0: a free one); returns the root URL."""
        # No logging set-up of its own (uvicorn's is process-wide): inside the product (the demo) it would
        # reconfigure the product's uvicorn loggers and silence its access log.
        config = uvicorn.Config(
            build_app(self), host="127.0.0.1", port=port, lifespan="off", log_config=None, log_level=None
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while not self._server.started:
            if self._task.done() or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the WeCom emulator did not start")
            await asyncio.sleep(0.01)
        bound = self._server.servers[0].sockets[0].getsockname()[1]
        self._url = f"http://127.0.0.1:{bound}"
        return self._url

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def api_base_url(self) -> str:
        """What WECOM_API_BASE_URL is set to."""
        return f"{self.url}/cgi-bin"

    # -- time, members, callbacks ------------------------------------------------------------------------
    def now(self) -> float:
        """The emulator's clock in epoch seconds: `now()` given at construction plus any `advance`."""
        return self._now() + self._offset

    def advance(self, seconds: float) -> None:
        """Moves the emulator's clock on (tokens, response codes and media expire by it)."""
        self._offset += seconds

    def expire_tokens(self) -> None:
        """Every access token issued so far answers 42001 from now on."""
        self.state.expire_tokens()

    def new_msgid(self) -> str:
        return str(next(self._msgids))

    def add_member(self, userid: str) -> Member:
        """A member in the app's visible range (可见范围): the app may write to them."""
        self.state.members.add(userid)
        return Member(self, userid)

    def member(self, userid: str) -> Member:
        if userid not in self.state.members:
            raise KeyError(userid)
        return Member(self, userid)

    def connect(self, callback_url: str, *more: str) -> None:
        """The URL members' messages and events are POSTed to (the app's 接收消息 setting). With `more`,
        the URL is a load balancer in front of several product processes: callbacks go to each in turn."""
        self.callback_url = callback_url
        self._callbacks = itertools.cycle((callback_url, *more))

    async def deliver(self, fields: XmlFields) -> Delivery:
        if self._callbacks is None:
            raise RuntimeError("no callback URL: call emu.connect(url) first")
        return await post_callback(self, next(self._callbacks), to_xml(fields))
