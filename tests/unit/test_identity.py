"""National ID checksum, masking, and masked printing of ID values."""

from __future__ import annotations

import logging

import pytest

from domain.privacy.identity import (
    NationalId,
    id_check_char,
    id_problem,
    is_valid_id,
    mask_address,
    mask_id,
    mask_name,
    mask_phone,
    mask_student_number,
)


def make_id(first17: str) -> str:
    return first17 + id_check_char(first17)


VALID = make_id("11010120150301123")  # fictional: Beijing Dongcheng code, sequence 123


def test_check_char_matches_the_standard_example() -> None:
    # The GB 11643-1999 worked example: 11010519491231002 → X
    assert id_check_char("11010519491231002") == "X"
    assert is_valid_id("11010519491231002X")


def test_valid_id_passes() -> None:
    assert id_problem(VALID) is None
    assert is_valid_id(VALID.lower())


@pytest.mark.parametrize(
    "bad",
    [
        VALID[:-1] + ("0" if VALID[-1] != "0" else "1"),  # wrong check digit
        VALID[:-2],  # too short
        "1101012015030112AB",  # letters
        make_id("11010120151301123"),  # month 13
        "",
    ],
)
def test_invalid_ids_are_rejected(bad: str) -> None:
    assert id_problem(bad) is not None


def test_single_digit_typo_is_caught_by_checksum() -> None:
    typo = VALID[:10] + str((int(VALID[10]) + 1) % 10) + VALID[11:]
    assert "checksum" in (id_problem(typo) or "") or "date" in (id_problem(typo) or "")


def test_mask_keeps_first_six_and_last_four() -> None:
    assert mask_id("430521201503011234") == "430521********1234"
    assert mask_id(None) == ""


def test_g_student_number_is_masked_like_an_id() -> None:
    assert mask_student_number("G430521201503011234") == "G430521********1234"
    assert mask_student_number("L2026001") == "L2026001"


def test_names_and_phones_are_masked() -> None:
    assert mask_name("张小明") == "张*明"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_name("张明") == "张*"
    assert mask_phone("13800001234") == "138****1234"


def test_addresses_keep_only_their_start() -> None:
    assert mask_address("河南省信阳市上天梯区东山村3组") == "河南省信阳市****"
    assert mask_address("东山村3组") == "东山****"
    assert mask_address("村") == "****" and mask_address(None) == mask_address("") == ""


def test_national_id_never_prints_in_full(caplog: pytest.LogCaptureFixture) -> None:
    nid = NationalId(VALID)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("student id %s / %r", nid, nid)
    assert VALID not in caplog.text
    assert mask_id(VALID) in caplog.text
    assert nid.reveal() == VALID
