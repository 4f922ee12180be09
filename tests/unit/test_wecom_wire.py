"""The tests' own WeCom wire helper reproduces the published example, so what it builds is evidence."""

from __future__ import annotations

from tests.unit.test_wecom_crypto import (
    CORP_ID,
    ECHOSTR,
    ENCODING_AES_KEY,
    MSG_SIGNATURE,
    NONCE,
    PLAINTEXT,
    TIMESTAMP,
    TOKEN,
)
from tests.wecom_wire import seal, sign, unseal


def test_the_helper_signs_the_published_example_as_published() -> None:
    assert sign(TOKEN, TIMESTAMP, NONCE, ECHOSTR) == MSG_SIGNATURE


def test_the_helper_opens_the_published_echostr_and_seals_it_back_byte_for_byte() -> None:
    prefix, message, receive_id = unseal(ECHOSTR, ENCODING_AES_KEY)
    assert (message, receive_id) == (PLAINTEXT, CORP_ID)
    assert seal(message, ENCODING_AES_KEY, receive_id, prefix) == ECHOSTR
