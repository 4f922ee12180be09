"""The checks every WeCom callback request passes, in the order that leaks least: the signature
first (so nothing unsigned reaches the cipher, and padding errors teach an outsider nothing), then
the timestamp and replay, then decryption."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.wecom.crypto import WeComCipher, check_signature
from bot.wecom.freshness import ReplayGuard


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
