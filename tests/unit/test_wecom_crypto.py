"""WeCom callback crypto: the published example as a known answer, round trips, and every refusal."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wecom.callback import CallbackVerifier
from bot.wecom.crypto import (
    BadBase64,
    BadLength,
    BadPadding,
    BadSignature,
    NotText,
    WeComCipher,
    WrongReceiver,
    check_signature,
    parse_encoding_aes_key,
    signature,
)
from bot.wecom.freshness import Replayed, ReplayGuard, StaleTimestamp

# The published example (PROTOCOL.md, from WeCom's 加解密方案说明); expected values are literals.
TOKEN = "QDG6eK"
CORP_ID = "wx5823bf96d3bd56c7"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
TIMESTAMP = "1409659589"
NONCE = "263014780"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
MSG_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
PLAINTEXT = "1616140317555161061"
SENT = datetime(2014, 9, 2, 12, 6, 29, tzinfo=UTC)  # 1409659589


@pytest.fixture
def cipher() -> WeComCipher:
    return WeComCipher(parse_encoding_aes_key(ENCODING_AES_KEY), CORP_ID)


def raw_ciphertext(key: bytes, plain: bytes) -> str:
    """Encrypts bytes laid out by the test itself (no padding added), to build malformed payloads."""
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def pkcs7_32(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


def test_the_published_example_has_the_published_signature() -> None:
    assert SENT.timestamp() == int(TIMESTAMP)
    assert signature(TOKEN, TIMESTAMP, NONCE, ECHOSTR) == MSG_SIGNATURE
    check_signature(TOKEN, TIMESTAMP, NONCE, ECHOSTR, MSG_SIGNATURE)


def test_the_published_echostr_decrypts_to_the_published_plaintext(cipher: WeComCipher) -> None:
    assert cipher.decrypt(ECHOSTR) == PLAINTEXT


def test_encrypting_with_the_same_prefix_gives_a_ciphertext_of_the_same_shape(cipher: WeComCipher) -> None:
    encrypted = cipher.encrypt(PLAINTEXT)
    # 16 + 4 + 19 + 18 = 57 bytes, padded to 64: one 32-byte multiple more than the header.
    assert len(base64.b64decode(encrypted)) == 64
    assert cipher.decrypt(encrypted) == PLAINTEXT


@pytest.mark.parametrize("message", ["", "x", "<xml><Content><![CDATA[张三缺课]]></Content></xml>", "é" * 40])
def test_round_trip_with_a_random_key(message: str) -> None:
    key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    assert len(key) == 43
    cipher = WeComCipher(parse_encoding_aes_key(key), "ww0123456789abcdef")
    first, second = cipher.encrypt(message), cipher.encrypt(message)
    assert first != second  # a fresh random prefix each time
    assert cipher.decrypt(first) == cipher.decrypt(second) == message
    assert len(base64.b64decode(first)) % 32 == 0


@pytest.mark.parametrize(
    "given",
    [
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4",  # last digit changed
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd",  # truncated
        "",
        "签名",
    ],
)
def test_a_wrong_signature_is_refused(given: str) -> None:
    with pytest.raises(BadSignature):
        check_signature(TOKEN, TIMESTAMP, NONCE, ECHOSTR, given)


def test_a_signature_over_other_parameters_is_refused() -> None:
    with pytest.raises(BadSignature):
        check_signature(TOKEN, "1409659590", NONCE, ECHOSTR, MSG_SIGNATURE)
    with pytest.raises(BadSignature):
        check_signature("other", TIMESTAMP, NONCE, ECHOSTR, MSG_SIGNATURE)


@pytest.mark.parametrize("encrypted", ["not base64!", ECHOSTR[:-1], "P9nA zCzy", "中文"])
def test_text_that_is_not_base64_is_refused(cipher: WeComCipher, encrypted: str) -> None:
    with pytest.raises(BadBase64):
        cipher.decrypt(encrypted)


def test_bytes_that_are_not_whole_blocks_are_refused(cipher: WeComCipher) -> None:
    with pytest.raises(BadPadding):
        cipher.decrypt(base64.b64encode(b"x" * 40).decode())
    with pytest.raises(BadPadding):
        cipher.decrypt("")


def test_a_ciphertext_under_another_key_fails_its_padding(cipher: WeComCipher) -> None:
    other = WeComCipher(os.urandom(32), CORP_ID)
    with pytest.raises((BadPadding, BadLength, NotText, WrongReceiver)):
        # Almost always BadPadding; a lucky last byte still fails a later check.
        cipher.decrypt(other.encrypt(PLAINTEXT))


def test_padding_beyond_32_or_uneven_is_refused(cipher: WeComCipher) -> None:
    body = os.urandom(16) + (3).to_bytes(4, "big") + b"abc" + CORP_ID.encode()  # 41 bytes
    uneven = body + bytes(range(1, 24))  # 64 bytes; the last says 23, the 22 before it are not 23
    assert len(uneven) == 64
    with pytest.raises(BadPadding):
        cipher.decrypt(raw_ciphertext(cipher.key, uneven))
    too_large = os.urandom(32) + bytes([33]) * 32  # 33 > the 32-byte block
    with pytest.raises(BadPadding):
        cipher.decrypt(raw_ciphertext(cipher.key, too_large))
    zero = os.urandom(31) + b"\x00"
    with pytest.raises(BadPadding):
        cipher.decrypt(raw_ciphertext(cipher.key, zero))


def test_a_length_beyond_the_data_is_refused(cipher: WeComCipher) -> None:
    plain = os.urandom(16) + (1000).to_bytes(4, "big") + b"abc" + CORP_ID.encode()
    with pytest.raises(BadLength):
        cipher.decrypt(raw_ciphertext(cipher.key, pkcs7_32(plain)))
    too_short = os.urandom(10)  # not even the random prefix and the length
    with pytest.raises(BadLength):
        cipher.decrypt(raw_ciphertext(cipher.key, pkcs7_32(too_short)))


def test_a_message_for_another_corp_is_refused(cipher: WeComCipher) -> None:
    other_corp = WeComCipher(cipher.key, "wx0000000000000000")
    with pytest.raises(WrongReceiver):
        cipher.decrypt(other_corp.encrypt(PLAINTEXT))
    no_corp = WeComCipher(cipher.key, "")
    with pytest.raises(WrongReceiver):
        cipher.decrypt(no_corp.encrypt(PLAINTEXT))


def test_a_message_that_is_not_utf8_is_refused(cipher: WeComCipher) -> None:
    plain = os.urandom(16) + (2).to_bytes(4, "big") + b"\xff\xfe" + CORP_ID.encode()
    with pytest.raises(NotText):
        cipher.decrypt(raw_ciphertext(cipher.key, pkcs7_32(plain)))


def test_each_refusal_has_its_own_code() -> None:
    kinds = [BadSignature, BadBase64, BadPadding, BadLength, NotText, WrongReceiver, StaleTimestamp, Replayed]
    assert len({k.code for k in kinds}) == len(kinds)


@pytest.mark.parametrize(
    "key",
    [
        ENCODING_AES_KEY[:-1],  # 42 characters
        ENCODING_AES_KEY + "A",  # 44
        ENCODING_AES_KEY[:-1] + "!",  # not base64
        ENCODING_AES_KEY[:-1] + "好",
        "",
    ],
)
def test_a_malformed_encoding_aes_key_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_encoding_aes_key(key)
    assert key[:10] not in str(err.value) or not key


def test_the_guard_refuses_a_timestamp_more_than_five_minutes_off() -> None:
    guard = ReplayGuard()
    for off in (timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1), timedelta(days=4000)):
        with pytest.raises(StaleTimestamp):
            guard.admit(MSG_SIGNATURE, TIMESTAMP, NONCE, SENT + off)
    guard.admit(MSG_SIGNATURE, TIMESTAMP, NONCE, SENT + timedelta(minutes=5))


@pytest.mark.parametrize(
    "timestamp", ["", "-1409659589", " 1409659589", "1409659589.0", "１４０９６５９５８９", "9" * 30]
)
def test_the_guard_refuses_a_timestamp_that_is_not_plain_seconds(timestamp: str) -> None:
    with pytest.raises(StaleTimestamp):
        ReplayGuard().admit(MSG_SIGNATURE, timestamp, NONCE, SENT)


def test_the_guard_refuses_a_replay_within_the_window_and_forgets_it_after() -> None:
    guard = ReplayGuard()
    guard.admit(MSG_SIGNATURE, TIMESTAMP, NONCE, SENT)
    with pytest.raises(Replayed):
        guard.admit(MSG_SIGNATURE, TIMESTAMP, NONCE, SENT + timedelta(minutes=4))
    with pytest.raises(Replayed):
        guard.admit(MSG_SIGNATURE.upper(), TIMESTAMP, NONCE, SENT + timedelta(minutes=4))
    guard.admit(MSG_SIGNATURE, TIMESTAMP, "another nonce", SENT + timedelta(minutes=4))
    with pytest.raises(StaleTimestamp):  # past the window it is stale, not merely a replay
        guard.admit(MSG_SIGNATURE, TIMESTAMP, NONCE, SENT + timedelta(minutes=6))


def test_the_guard_stays_within_its_capacity() -> None:
    guard = ReplayGuard(capacity=3)
    for n in range(10):
        guard.admit(MSG_SIGNATURE, TIMESTAMP, str(n), SENT)
    assert len(guard._seen) == 3
    with pytest.raises(Replayed):
        guard.admit(MSG_SIGNATURE, TIMESTAMP, "9", SENT)


def test_the_verifier_answers_the_published_example_once(cipher: WeComCipher) -> None:
    verifier = CallbackVerifier(token=TOKEN, cipher=cipher)
    assert verifier.verify_url(MSG_SIGNATURE, TIMESTAMP, NONCE, ECHOSTR, SENT) == PLAINTEXT
    with pytest.raises(Replayed):
        verifier.verify_url(MSG_SIGNATURE, TIMESTAMP, NONCE, ECHOSTR, SENT)


def test_the_verifier_checks_the_signature_before_anything_else(cipher: WeComCipher) -> None:
    verifier = CallbackVerifier(token=TOKEN, cipher=cipher)
    with pytest.raises(BadSignature):  # stale and undecryptable too, but unsigned comes first
        verifier.verify_url("0" * 40, TIMESTAMP, NONCE, "garbage", SENT + timedelta(days=1))
    assert not verifier.guard._seen  # an unsigned request takes no room in the replay memory


def test_the_secrets_stay_out_of_reprs(cipher: WeComCipher) -> None:
    verifier = CallbackVerifier(token=TOKEN, cipher=cipher)
    assert TOKEN not in repr(verifier)
    assert repr(cipher.key) not in repr(verifier)
