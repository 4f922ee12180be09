"""ID numbers and mobile numbers are masked in every log line, traceback included, whatever logger wrote them."""

from __future__ import annotations

import io
import logging

from app.logs import FORMAT, MaskIdsFilter, MaskingFormatter, mask_ids

ID = "11010519491231002X"
PHONE = "13800000001"


def test_ids_are_masked_inside_text() -> None:
    assert mask_ids(f"student G{ID} and {ID.lower()}") == "student G110105********002X and 110105********002X"
    assert mask_ids("case 2026-000123, id 12345") == "case 2026-000123, id 12345"


def test_mobile_numbers_are_masked_in_every_usual_spelling() -> None:
    assert mask_ids(f"phone {PHONE}.") == "phone 138****0001."
    assert mask_ids("+86 138-0000-0001, 8613800000001") == "138****0001, 138****0001"
    assert mask_ids("Key (phone)=(13800000001) already exists") == "Key (phone)=(138****0001) already exists"
    # Longer digit runs are not phones (nor 11-digit numbers that do not start 13–19).
    assert mask_ids("12800000001 and 138000000012") == "12800000001 and 138000000012"


def test_the_filter_masks_formatted_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "imported %s, %s", (ID, PHONE), None)
    MaskIdsFilter().filter(record)
    assert ID not in record.getMessage() and PHONE not in record.getMessage()
    assert "110105********002X" in record.getMessage()
    assert "138****0001" in record.getMessage()


def _log_failure(handler: logging.Handler) -> None:
    log = logging.getLogger("test_logs.masking")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError(f"insert failed [parameters: ('{ID}', '{PHONE}')]")
        except ValueError:
            log.exception("import of %s failed", PHONE)
    finally:
        log.removeHandler(handler)


def test_the_traceback_is_masked_by_the_filter() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))  # a plain formatter: the filter alone must do it
    handler.addFilter(MaskIdsFilter())
    _log_failure(handler)
    text = out.getvalue()
    assert "Traceback" in text and "ValueError: insert failed" in text
    assert ID not in text and PHONE not in text
    assert "110105********002X" in text and "138****0001" in text


def test_the_masking_formatter_masks_the_whole_output() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(MaskingFormatter(FORMAT))  # without the filter
    _log_failure(handler)
    text = out.getvalue()
    assert "Traceback" in text
    assert ID not in text and PHONE not in text
