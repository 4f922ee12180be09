"""A failing INSERT logged with its traceback shows neither the ID number nor the phone (issue 15)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.logs import FORMAT, MaskIdsFilter, MaskingFormatter

ID = "11010519491231002X"
PHONE = "13900000001"
# No name: the NOT NULL violation quotes the whole failing row on PostgreSQL (DETAIL: Failing row contains …).
FAILING_INSERT = text(
    "INSERT INTO students (student_number, national_id, guardian_phone) VALUES ('T9', :nid, :phone)"
)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A handler set up the way configure_logging sets up the real ones."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskIdsFilter())
    handler.setFormatter(MaskingFormatter(FORMAT))
    log = logging.getLogger("test_log_masking")
    log.addHandler(handler)
    yield out
    log.removeHandler(handler)


async def test_a_failing_insert_logs_no_personal_data(engine: AsyncEngine, captured: io.StringIO) -> None:
    with pytest.raises(IntegrityError) as failure:
        async with engine.begin() as conn:
            await conn.execute(FAILING_INSERT, {"nid": ID, "phone": PHONE})
    assert "[parameters:" not in str(failure.value)  # hide_parameters, set by make_engine
    try:
        raise failure.value
    except IntegrityError:
        logging.getLogger("test_log_masking").exception("roster write failed")
    output = captured.getvalue()
    assert "Traceback" in output and "IntegrityError" in output
    assert "[parameters:" not in output
    assert ID not in output and PHONE not in output
