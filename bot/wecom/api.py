"""An async client of WeCom's server API (WECOM_API_BASE_URL): gettoken, message/send (text split under
2 048 bytes, template cards, files), message/update_template_card, media/upload and media/get.

Every call carries the shared access token (bot.wecom.tokens), refreshed and tried once more when WeCom
refuses it; errcode -1, 5xx and timeouts are retried with exponential backoff; an unreachable member and
a rate limit are raised at once as their own exceptions (bot.wecom.errors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Self

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from bot.wecom.errors import (
    MediaTooLarge,
    SystemBusy,
    TokenRejected,
    UnreachableMember,
    WeComApiError,
    WeComUnavailable,
    error_for,
)
from bot.wecom.text_split import split_text
from bot.wecom.tokens import AccessTokenCache, TokenStore
from domain.clock import Clock


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per call and the backoff between them (seconds; jittered, doubling up to `max_wait`)."""

    attempts: int = 4
    first_wait: float = 0.5
    max_wait: float = 8.0
    timeout: float = 10.0


@dataclass(frozen=True)
class App:
    """The self-built app the client speaks for."""

    corp_id: str
    agent_id: int
    secret: str

    @property
    def token_key(self) -> str:
        return f"wecom:{self.corp_id}:{self.agent_id}"


@dataclass(frozen=True)
class SentCard:
    msgid: str
    response_code: str


class _ServerError(Exception):
    """A 5xx answer: retried like a timeout."""


_RETRIED = (SystemBusy, _ServerError, httpx.TransportError)


class WeComClient:
    """One app's client; `await client.aclose()` when done (or use it as an async context manager)."""

    def __init__(
        self,
        app: App,
        *,
        base_url: str,
        tokens: TokenStore,
        clock: Clock,
        retry: RetryPolicy = RetryPolicy(),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.app = app
        self._base = base_url.rstrip("/")
        self._retry = retry
        self._http = http or httpx.AsyncClient(timeout=retry.timeout)
        self._tokens = AccessTokenCache(app.token_key, tokens, self._fetch_token, clock)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- sending ---------------------------------------------------------------------------------------
    async def send_text(self, userid: str, text: str) -> list[str]:
        """Sends the text as one message per part of at most 2 048 bytes; returns the msgids."""
        return [(await self._send(userid, "text", {"content": part}))["msgid"] for part in split_text(text)]

    async def send_card(self, userid: str, card: dict[str, Any]) -> SentCard:
        """Sends a template card (bot.wecom.cards); its response code updates it once, within 72 h."""
        answer = await self._send(userid, "template_card", card)
        return SentCard(answer["msgid"], answer.get("response_code", ""))

    async def send_file(self, userid: str, media_id: str) -> str:
        return str((await self._send(userid, "file", {"media_id": media_id}))["msgid"])

    async def update_card_buttons(self, userid: str, response_code: str, label: str) -> None:
        """Greys a card's buttons out under `label` (e.g. the answer chosen), so it reads as answered."""
        body = {
            "userids": [userid],
            "agentid": self.app.agent_id,
            "response_code": response_code,
            "button": {"replace_name": label},
        }
        await self._call("POST", "message/update_template_card", json=body)

    async def _send(self, userid: str, msgtype: str, content: dict[str, Any]) -> dict[str, Any]:
        body = {"touser": userid, "msgtype": msgtype, "agentid": self.app.agent_id, msgtype: content}
        answer = await self._call("POST", "message/send", json=body)
        # errcode 0 with the recipient listed as invalid: written to nobody.
        if userid in str(answer.get("invaliduser", "")).split("|"):
            raise UnreachableMember(0, "invaliduser")
        return answer

    # -- media -----------------------------------------------------------------------------------------
    async def upload_media(self, kind: str, filename: str, data: bytes, content_type: str) -> str:
        """Uploads a file (kind "file" or "image"); returns its media_id, valid for 3 days."""
        files = {"media": (filename, data, content_type)}
        answer = await self._call("POST", "media/upload", params={"type": kind}, files=files)
        return str(answer["media_id"])

    async def download_media(self, media_id: str, limit: int | None = None) -> bytes:
        """The bytes of a member's photo or file (media/get); MediaTooLarge past `limit` bytes, which are
        never all read into memory (WeCom tells no size before the download)."""
        reply = await self._request("GET", "media/get", params={"media_id": media_id}, raw=True, limit=limit)
        assert isinstance(reply, bytes)
        return reply

    # -- plumbing --------------------------------------------------------------------------------------
    async def _fetch_token(self) -> tuple[str, int]:
        params = {"corpid": self.app.corp_id, "corpsecret": self.app.secret}
        answer = await self._retrying("GET", "gettoken", params=params, token=None)
        assert isinstance(answer, dict)
        return str(answer["access_token"]), int(answer["expires_in"])

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = await self._request(method, path, **kwargs)
        assert isinstance(answer, dict)
        return answer

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | bytes:
        token = await self._tokens.get()
        try:
            return await self._retrying(method, path, token=token, **kwargs)
        except TokenRejected:
            token = await self._tokens.renew(token)
            return await self._retrying(method, path, token=token, **kwargs)

    async def _retrying(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | bytes:
        policy = self._retry
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RETRIED),
            stop=stop_after_attempt(policy.attempts),
            wait=wait_exponential_jitter(
                multiplier=policy.first_wait, max=policy.max_wait, jitter=policy.first_wait
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, **kwargs)
        except (_ServerError, httpx.TransportError) as exc:
            raise WeComUnavailable(f"{path}: {exc.__class__.__name__}") from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _once(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        raw: bool = False,
        limit: int | None = None,
    ) -> dict[str, Any] | bytes:
        query = dict(params or {}) | ({"access_token": token} if token is not None else {})
        if raw:
            return await self._download(method, f"{self._base}/{path}", query, limit)
        reply = await self._http.request(method, f"{self._base}/{path}", params=query, json=json, files=files)
        if reply.status_code >= 500:
            raise _ServerError(str(reply.status_code))
        try:
            answer = reply.json()
        except ValueError:
            raise WeComApiError(reply.status_code, "not JSON") from None
        errcode = int(answer.get("errcode", 0))
        if errcode != 0:
            raise error_for(errcode, str(answer.get("errmsg", "")))
        return dict(answer)

    async def _download(self, method: str, url: str, query: dict[str, str], limit: int | None) -> bytes:
        async with self._http.stream(method, url, params=query) as reply:
            if reply.status_code >= 500:
                raise _ServerError(str(reply.status_code))
            declared = reply.headers.get("content-length", "")
            if limit is not None and declared.isdigit() and int(declared) > limit:
                raise MediaTooLarge(declared)
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body += chunk
                if limit is not None and len(body) > limit:
                    raise MediaTooLarge(f">{limit}")
        return _file_or_error(reply.headers.get("content-type", ""), bytes(body))


def _file_or_error(content_type: str, content: bytes) -> bytes:
    """media/get answers the file itself, or JSON with an errcode (as application/json or text/plain);
    a member's text file comes as text/plain too, and is the file, not a garbled error."""
    if content_type.startswith(("application/json", "text/plain")):
        try:
            answer = json.loads(content)
        except ValueError:
            return content
        if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
            raise error_for(int(answer["errcode"]), str(answer.get("errmsg", "")))
    return content
