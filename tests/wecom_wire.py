"""WeCom's callback wire format written independently of bot.wecom (tests prove the product's crypto
with it): SHA-1 signature and AES-256-CBC straight from `cryptography`, checked against the published
example in tests/unit/test_wecom_wire.py."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _aes(encoding_aes_key: str) -> Cipher[modes.CBC]:
    key = base64.b64decode(encoding_aes_key + "=")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def seal(message: str, encoding_aes_key: str, receive_id: str, prefix: bytes | None = None) -> str:
    body = message.encode()
    plain = (prefix or os.urandom(16)) + len(body).to_bytes(4, "big") + body + receive_id.encode()
    pad = 32 - len(plain) % 32
    encryptor = _aes(encoding_aes_key).encryptor()
    return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()


def unseal(encrypted: str, encoding_aes_key: str) -> tuple[bytes, str, str]:
    """(random prefix, message, receive id)."""
    decryptor = _aes(encoding_aes_key).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    size = int.from_bytes(plain[16:20], "big")
    return plain[:16], plain[20 : 20 + size].decode(), plain[20 + size :].decode()


def callback(
    xml: str,
    *,
    token: str,
    encoding_aes_key: str,
    corp_id: str,
    timestamp: str,
    nonce: str,
    agent_id: int = 1,
) -> tuple[dict[str, str], bytes]:
    """Query parameters and body of a POST to the callback URL carrying `xml`."""
    encrypted = seal(xml, encoding_aes_key, corp_id)
    params = {
        "msg_signature": sign(token, timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><AgentID><![CDATA[{agent_id}]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return params, body.encode()
