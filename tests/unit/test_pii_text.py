"""ID and mobile numbers in free text: found when checksum-valid or mobile-shaped, masked on output,
and ordinary numbers (dates, 学籍号, landlines, short numbers) left alone."""

from __future__ import annotations

from typing import cast

import pytest

from bot.conversations.model import FormContext
from bot.conversations.steps import TextStep
from domain.errors import InvalidInput
from domain.privacy.identity import id_check_char
from domain.privacy.pii_text import (
    ID_NUMBER,
    MOBILE,
    find_identifiers,
    mask_identifiers,
    mask_in,
    refuse_identifiers,
)


def make_id(first17: str) -> str:
    return first17 + id_check_char(first17)


ID = make_id("11010120150301123")  # fictional: Beijing Dongcheng code, born 2015-03-01
ID_X = "11010519491231002X"  # the GB 11643 worked example, check character X
MOBILE_NUMBER = "13800000001"  # fictional
FULL_WIDTH = str.maketrans("0123456789X+- ", "０１２３４５６７８９Ｘ＋－\u3000")


def kinds(text: str) -> list[str]:
    return [found.kind for found in find_identifiers(text)]


@pytest.mark.parametrize(
    "text",
    [
        ID,
        f"家长说孩子身份证号是{ID}，已核对",
        ID_X,
        ID_X.lower(),
        f"{ID[:6]} {ID[6:14]} {ID[14:]}",  # grouped 6-8-4
        f"{ID[:6]}-{ID[6:14]}-{ID[14:]}",
        ID.translate(FULL_WIDTH),
        f"ID:{ID}.",
    ],
)
def test_checksum_valid_id_numbers_are_found(text: str) -> None:
    assert kinds(text) == [ID_NUMBER]


@pytest.mark.parametrize(
    "text",
    [
        MOBILE_NUMBER,
        "联系电话13800000001",
        "138 0000 0001",
        "138-0000-0001",
        "+86 138 0000 0001",
        "+8613800000001",
        "0086 13800000001",
        "(+86)138-0000-0001",
        "１３８００００００01",
        "+86 138 0000 0001".translate(FULL_WIDTH),
        "138\u20140000\u20140001",  # an em dash between the groups
        "tel:19912345678;",
    ],
)
def test_mobile_numbers_are_found_with_prefixes_and_separators(text: str) -> None:
    assert kinds(text) == [MOBILE]


@pytest.mark.parametrize(
    "text",
    [
        ID[:-1] + ("0" if ID[-1] != "0" else "1"),  # wrong check digit
        make_id("11010120151301123"),  # month 13: not a birth date
        ID[:-1],  # 17 digits
        ID + "5",  # part of a longer number
        f"G{ID}",  # a 学籍号 (G + ID number) named on purpose in a field
        "2026年9月3日返校，20260903",  # dates
        "2026-09-03",
        "12800000001",  # 12x is no mobile prefix
        "1380000000",  # 10 digits
        "138000000012",  # 12 digits
        "0731-84567890",  # a landline with its area code
        "010 8888 6666",
        "学号 20260012，班级 5",
        "2026-000012",  # a case number
        "8 月 3 日，13 点",
        "",
    ],
)
def test_near_misses_are_not_found(text: str) -> None:
    assert find_identifiers(text) == []


def test_both_are_found_in_order_with_their_digits() -> None:
    text = f"身份证 {ID_X}，父亲电话 +86 138-0000-0001。"
    found = find_identifiers(text)
    assert [(f.kind, f.digits) for f in found] == [(ID_NUMBER, ID_X), (MOBILE, MOBILE_NUMBER)]
    assert text[found[0].start : found[0].end] == ID_X


def test_masking_keeps_the_text_around_the_numbers() -> None:
    text = f"家长说身份证{ID}，电话138 0000 0001，下周再访。"
    assert mask_identifiers(text) == f"家长说身份证110101********{ID[-4:]}，电话138****0001，下周再访。"


def test_masking_full_width_numbers_keeps_the_rest_as_typed() -> None:
    text = "电话：１３８００００００01（父亲）"
    assert mask_identifiers(text) == "电话：138****0001（父亲）"


def test_masking_covers_student_numbers_and_mistyped_ids() -> None:
    typo = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    assert mask_identifiers(f"学籍号G{ID}") == f"学籍号G{ID[:6]}********{ID[-4:]}"
    assert mask_identifiers(typo) == f"{typo[:6]}********{typo[-4:]}"


def test_masking_leaves_ordinary_numbers() -> None:
    text = "2026-09-03 返校；学号 20260012；学校电话 0731-84567890；案件 2026-000012"
    assert mask_identifiers(text) == text


def test_event_data_is_masked_inside_lists_and_dicts() -> None:
    data = {"note": f"电话{MOBILE_NUMBER}", "visitors": [3, 4], "ok": True, "more": [{"x": ID}]}
    assert mask_in(data) == {
        "note": "电话138****0001",
        "visitors": [3, 4],
        "ok": True,
        "more": [{"x": f"{ID[:6]}********{ID[-4:]}"}],
    }


def test_refusal_is_an_invalid_input_naming_the_catalog_message() -> None:
    with pytest.raises(InvalidInput) as refused:
        refuse_identifiers(f"家长电话 {MOBILE_NUMBER}")
    assert refused.value.code == "identifiers_in_text"
    refuse_identifiers("家长同意下周一返校")
    refuse_identifiers(None)


async def test_the_chat_summary_masks_a_note_saved_before_the_check() -> None:
    """A draft from before input was checked may hold a number: the summary shows it masked."""
    step = TextStep("note", "report.ask_note")
    ctx = cast(FormContext, None)  # a text answer is described without the database or the language
    shown = await step.describe(ctx, {"note": f"父亲电话 {MOBILE_NUMBER}"})
    assert shown == "父亲电话 138****0001"
