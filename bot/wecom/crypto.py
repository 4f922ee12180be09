"""WeCom's callback encryption (加解密方案, ../shared/wecom/PROTOCOL.md): the SHA-1 signature over
token, timestamp, nonce and ciphertext, and AES-256-CBC with IV = key[:16] over
16 random bytes + 4-byte big-endian length + message + receive id, PKCS#7-padded to 32-byte blocks.

Every refusal is its own exception type with a stable `code` for logs; none quotes the input."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ENCODING_AES_KEY_LENGTH = 43  # 32 bytes in base64 without its trailing "="
BLOCK = 32  # WeCom pads to 32 bytes, not to AES's 16
_RANDOM = 16
_LENGTH = 4


class CallbackRefused(Exception):
    """A callback request we do not accept; `code` names why, for logs and tests."""

    code = "refused"

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or self.code)


class BadSignature(CallbackRefused):
    code = "bad_signature"


class BadBase64(CallbackRefused):
    code = "bad_base64"


class BadPadding(CallbackRefused):
    code = "bad_padding"


class BadLength(CallbackRefused):
    code = "bad_length"


class NotText(CallbackRefused):
    code = "not_utf8"


class WrongReceiver(CallbackRefused):
    code = "wrong_receive_id"


def parse_encoding_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind an EncodingAESKey, or ValueError saying what is wrong (not the key)."""
    if len(encoding_aes_key) != ENCODING_AES_KEY_LENGTH:
        raise ValueError(
            f"must be {ENCODING_AES_KEY_LENGTH} characters (it has {len(encoding_aes_key)}); "
            "copy it from the WeCom admin console"
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 (letters, digits, + and / only)") from None
    if len(key) != 32:  # unreachable for 43 valid characters, kept as the rule itself
        raise ValueError("must decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature: SHA-1 hex of the four strings sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()


def check_signature(token: str, timestamp: str, nonce: str, encrypted: str, given: str) -> None:
    """Raises BadSignature unless `given` is the signature (compared in constant time)."""
    expected = signature(token, timestamp, nonce, encrypted)
    if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace")):
        raise BadSignature()


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise BadPadding()
    return data[:-n]


@dataclass(frozen=True)
class WeComCipher:
    """Encrypts and decrypts callback payloads for one app: its AES key and receive id (the CorpID)."""

    key: bytes = field(repr=False)
    receive_id: str

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("the AES key must be 32 bytes")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        """Base64 ciphertext of `message` (for passive replies and tests); the prefix is random unless given."""
        prefix = os.urandom(_RANDOM) if random_prefix is None else random_prefix
        if len(prefix) != _RANDOM:
            raise ValueError("the random prefix must be 16 bytes")
        body = message.encode()
        plain = prefix + len(body).to_bytes(_LENGTH, "big") + body + self.receive_id.encode()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """The message inside `encrypted`, or a CallbackRefused subclass naming what is wrong with it."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
            raise BadBase64() from None
        if not data or len(data) % 16:
            raise BadPadding("not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < _RANDOM + _LENGTH:
            raise BadLength("shorter than its header")
        size = int.from_bytes(plain[_RANDOM : _RANDOM + _LENGTH], "big")
        start = _RANDOM + _LENGTH
        if start + size > len(plain):
            raise BadLength("length beyond the data")
        try:
            message = plain[start : start + size].decode()
            receive_id = plain[start + size :].decode()
        except UnicodeDecodeError:
            raise NotText() from None
        if not hmac.compare_digest(receive_id.encode(), self.receive_id.encode()):
            raise WrongReceiver()
        return message
