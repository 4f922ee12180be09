"""What the WeCom emulator remembers: one app (corp id, agent id, secret), its access tokens, the
members, every message sent to each member, template-card response codes and uploaded media."""

from __future__ import annotations

import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

TOKEN_LIFETIME = 7200.0  # seconds, as gettoken's expires_in
RESPONSE_CODE_LIFETIME = 72 * 3600.0  # a card's response code updates it once within 72 h
MEDIA_LIFETIME = 3 * 24 * 3600.0  # an uploaded media_id is valid for 3 days


@dataclass
class Sent:
    """One message/send as a member received it (the request's JSON, minus the recipients)."""

    msgid: str
    msgtype: str
    body: dict[str, Any]
    at: float
    response_code: str | None = None

    @property
    def text(self) -> str:
        """The text of a text message ('' for other types)."""
        return str(self.body.get("text", {}).get("content", "")) if self.msgtype == "text" else ""


@dataclass
class ResponseCode:
    userid: str
    task_id: str
    issued_at: float
    used: bool = False


@dataclass
class Media:
    data: bytes
    filename: str
    content_type: str
    kind: str
    created_at: float


@dataclass
class AppState:
    """One self-built app of one corp; the emulator serves a single app."""

    corp_id: str
    agent_id: int
    secret: str
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (emulator time)
    members: set[str] = field(default_factory=set)
    inbox: dict[str, list[Sent]] = field(default_factory=lambda: defaultdict(list))
    response_codes: dict[str, ResponseCode] = field(default_factory=dict)
    card_updates: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, Media] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def issue_token(self, now: float) -> tuple[str, float]:
        """A valid token is handed out again, its validity renewed, as WeCom does; once expired, a new one."""
        for token, expiry in self.tokens.items():
            if expiry > now:
                self.tokens[token] = now + TOKEN_LIFETIME
                return token, TOKEN_LIFETIME
        token = "emu-" + secrets.token_urlsafe(24)
        self.tokens[token] = now + TOKEN_LIFETIME
        return token, TOKEN_LIFETIME

    def token_state(self, token: str, now: float) -> str:
        """'valid', 'expired' (errcode 42001) or 'invalid' (40014)."""
        expiry = self.tokens.get(token)
        if expiry is None:
            return "invalid"
        return "valid" if expiry > now else "expired"

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        for token in self.tokens:
            self.tokens[token] = float("-inf")

    def issue_response_code(self, userid: str, task_id: str, now: float) -> str:
        code = "rc-" + secrets.token_urlsafe(16)
        self.response_codes[code] = ResponseCode(userid, task_id, now)
        return code

    def new_media_id(self) -> str:
        return "media-" + secrets.token_urlsafe(16)
