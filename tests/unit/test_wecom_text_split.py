"""Long WeCom texts are cut into messages of at most 2 048 bytes at the most natural place."""

from __future__ import annotations

from bot.wecom.text_split import TEXT_LIMIT, split_text


def test_a_short_text_is_one_message() -> None:
    assert split_text("张三今天缺课。") == ["张三今天缺课。"]


def test_lines_are_kept_whole_and_joined_back_exactly() -> None:
    text = "\n".join(f"{i:03d} 三年级二班 王小明 缺课两天，已家访。" for i in range(120))
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p.encode()) <= TEXT_LIMIT for p in parts)
    assert "\n".join(parts) == text


def test_text_without_breaks_is_cut_between_characters_never_inside_one() -> None:
    text = "控辍保学" * 400  # 4 800 bytes of three-byte characters, no spaces
    parts = split_text(text)
    assert [len(p.encode()) for p in parts] == [2046, 2046, 708]
    assert "".join(parts) == text


def test_a_long_paragraph_is_cut_after_a_sentence() -> None:
    text = ("请于本周内完成家访并上传照片。" * 60).rstrip()
    parts = split_text(text)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_english_is_cut_at_a_space() -> None:
    text = " ".join(["absence"] * 600)
    parts = split_text(text)
    assert all(len(p) <= TEXT_LIMIT and not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert " ".join(parts) == text


def test_blank_text_is_no_message() -> None:
    assert split_text("  \n ") == []
