"""ID and mobile numbers in free text: notes already stored are shown masked on the case page, in /api/v1
and in masked ledgers, whole only in the authorised export; decision notes holding one are refused."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from domain.privacy.identity import id_check_char
from domain.reports import ledgers
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import County
from tests.web.test_api import token_for

FIRST17 = "11010120150301123"  # fictional: Beijing Dongcheng code, born 2015-03-01
ID_NUMBER = FIRST17 + id_check_char(FIRST17)
MASKED_ID = f"110101********{ID_NUMBER[-4:]}"
VISIT_NOTE = f"家长外出务工，父亲身份证{ID_NUMBER}"
VISIT_NOTE_MASKED = f"家长外出务工，父亲身份证{MASKED_ID}"
REASON = "家长电话 138-0000-0001，孩子去外婆家了"  # fictional mobile, typed in groups
MASKED_REASON = "家长电话 138****0001，孩子去外婆家了"


@pytest.fixture
async def stored_numbers(uow_factory: UnitOfWorkFactory, county: County) -> int:
    """Case A with an ID number in a visit note and a mobile in its report note, as stored before input
    was checked."""
    case_id = county.cases["A"]
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
        assert case is not None
        case.reason = REASON
        visit = next(e for e in await uow.cases.events(case_id) if e.kind == "visit_logged")
        visit.data = {**visit.data, "note": VISIT_NOTE}
        await uow.commit()
    return case_id


def assert_masked(text: str) -> None:
    assert ID_NUMBER not in text and "0000-0001" not in text and "00000001" not in text
    assert MASKED_ID in text and "138****0001" in text


async def test_the_case_page_shows_stored_numbers_masked(as_user: AsUser, stored_numbers: int) -> None:
    client = await as_user("admin")  # even someone who may export them sees them masked here
    page = await client.get(f"/cases/{stored_numbers}")
    assert page.status_code == 200
    assert_masked(page.text)
    assert "家长外出务工，父亲身份证" in page.text and MASKED_REASON in page.text


async def test_the_api_shows_stored_numbers_masked(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, stored_numbers: int
) -> None:
    headers = await token_for(uow_factory, county, "principal")
    detail = (await client.get(f"/api/v1/cases/{stored_numbers}", headers=headers)).json()
    assert detail["reason"] == MASKED_REASON
    events = (await client.get(f"/api/v1/cases/{stored_numbers}/events", headers=headers)).json()
    assert ID_NUMBER not in json.dumps(events, ensure_ascii=False)
    notes = [e["data"].get("note") for e in events if e["kind"] == "visit_logged"]
    assert VISIT_NOTE_MASKED in notes


def xlsx_cells(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 200, reply.text[:300]
    sheet: Worksheet = load_workbook(io.BytesIO(reply.content)).active  # type: ignore[assignment]
    return [str(c.value) for row in sheet.iter_rows() for c in row]


@pytest.mark.parametrize("kind", ["persuasion", "dropout"])
async def test_masked_ledgers_mask_the_numbers_and_the_authorised_export_keeps_them(
    as_user: AsUser, stored_numbers: int, kind: str
) -> None:
    stored, masked = (VISIT_NOTE, VISIT_NOTE_MASKED) if kind == "persuasion" else (REASON, MASKED_REASON)
    client = await as_user("principal")
    cells = xlsx_cells(await client.get(f"/exports/{kind}.xlsx"))
    assert masked in cells and ID_NUMBER not in "".join(cells) and "0000-0001" not in "".join(cells)
    table = (await client.get(f"/exports/{kind}.csv")).content.decode("utf-8-sig")
    assert masked in [cell for row in csv.reader(io.StringIO(table)) for cell in row]
    assert ID_NUMBER not in table and "0000-0001" not in table
    admin = await as_user("admin")  # may export PII: the ledger keeps what was written
    assert stored in xlsx_cells(await admin.get(f"/exports/{kind}.xlsx"))


async def test_a_decision_note_with_an_id_number_is_refused_over_the_api(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    principal = await token_for(uow_factory, county, "principal")
    b = county.cases["B"]
    before = (await client.get(f"/api/v1/cases/{b}/events", headers=principal)).json()
    for note in (f"在读证明，学生身份证 {ID_NUMBER}", "校长电话 +86 138 0000 0001"):
        reply = await client.post(
            f"/api/v1/cases/{b}/decisions",
            json={"decision": "clear", "code": "B", "note": note},
            headers=principal,
        )
        assert reply.status_code == 422, reply.text
        assert reply.json()["reason"] == "identifiers_in_text"
        assert reply.json()["detail"] == "请不要在说明中填写身份证号或电话。请删去号码后重新提交。"
    assert (await client.get(f"/api/v1/cases/{b}/events", headers=principal)).json() == before
    assert (await client.get(f"/api/v1/cases/{b}", headers=principal)).json()["status"] == "absent"
    # A 学籍号 (G + ID number) and a date are not refused: proof often names the receiving school's record.
    reply = await client.post(
        f"/api/v1/cases/{b}/decisions",
        json={"decision": "clear", "code": "B", "note": f"2026-09-20 转入示范镇二小，学籍号 G{ID_NUMBER}"},
        headers=principal,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["event"]["data"]["proof"] == f"2026-09-20 转入示范镇二小，学籍号 G{MASKED_ID}"


async def test_a_decision_note_with_a_mobile_is_refused_on_the_case_page(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("principal")
    c = county.cases["C"]
    token = csrf_of((await client.get(f"/cases/{c}")).text)
    reply = await client.post(
        f"/cases/{c}/decisions",
        data={"decision": "escalate", "note": "联系人电话１３８００００００01", "csrf_token": token},
    )
    assert reply.status_code == 422
    assert "请不要在说明中填写身份证号或电话" in reply.text
    assert "书面上报" in (await client.get(f"/cases/{c}")).text  # still offered: nothing was decided
    reply = await client.post(
        f"/cases/{c}/decisions", data={"decision": "escalate", "note": "县教育局", "csrf_token": token}
    )
    assert reply.status_code == 303


def test_every_ledger_has_its_free_text_columns_masked() -> None:
    """The masked columns are named by key: a renamed key must not silently stop the masking."""
    keys = {kind: {key for key, _, _ in ledgers.COLUMNS[kind]} for kind in ledgers.KINDS}
    assert ledgers.FREE_TEXT <= set().union(*keys.values())
    assert {kind: sorted(keys[kind] & ledgers.FREE_TEXT) for kind in ledgers.KINDS} == {
        "suspected": ["reason", "verification", "whereabouts"],
        "dropout": ["reason", "whereabouts"],
        "persuasion": ["note"],
    }
