"""The checks every WeCom callback request passes, in the order that leaks least: the signature
first (so nothing unsigned reaches the cipher, and padding errors teach an outsider nothing), then
the timestamp and replay, then decryption."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.wecom.crypto import WeComCipher, check_signature
from bot.wecom.freshness import ReplayGuard
from bot.wecom.xml_fields import BadXml, parse_fields


@dataclass
class CallbackVerifier:
    """One app's token and cipher, and the memory of requests already let through."""

    token: str = field(repr=False)
    cipher: WeComCipher
    guard: ReplayGuard = field(default_factory=ReplayGuard)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str, now: datetime) -> str:
        """The plaintext of `echostr`, to answer WeCom's URL verification; raises CallbackRefused."""
        check_signature(self.token, timestamp, nonce, echostr, msg_signature)
        self.guard.admit(msg_signature, timestamp, nonce, now)
        return self.cipher.decrypt(echostr)

    def open_message(self, msg_signature: str, timestamp: str, nonce: str, body: bytes, now: datetime) -> str:
        """The decrypted XML of a POSTed message or event; raises CallbackRefused (BadXml for a body
        without its Encrypt). The caller calls `forget` if it could not store the message, so WeCom's
        retry of the same request is let through."""
        encrypted = parse_fields(body).get("Encrypt", "")
        if not encrypted:
            raise BadXml("no Encrypt")
        check_signature(self.token, timestamp, nonce, encrypted, msg_signature)
        self.guard.admit(msg_signature, timestamp, nonce, now)
        return self.cipher.decrypt(encrypted)

    def forget(self, msg_signature: str, timestamp: str, nonce: str) -> None:
        self.guard.forget(msg_signature, timestamp, nonce)
