"""ID numbers are masked in every log line, whatever logger wrote them."""

from __future__ import annotations

import logging

from app.logs import MaskIdsFilter, mask_ids

ID = "11010519491231002X"


def test_ids_are_masked_inside_text() -> None:
    assert mask_ids(f"student G{ID} and {ID.lower()}") == "student G110105********002X and 110105********002X"
    assert mask_ids("case 2026-000123, phone 13800000001") == "case 2026-000123, phone 13800000001"


def test_the_filter_masks_formatted_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "imported %s", (ID,), None)
    MaskIdsFilter().filter(record)
    assert ID not in record.getMessage()
    assert "110105********002X" in record.getMessage()
