"""Coordinators' decisions and escalations through /api/v1 and the case page: who may decide what, what the
case's state allows (409 with a reason), scope (404), CSRF, and pages that never show internal keys."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from domain.casework.escalations import raise_for
from domain.clock import FixedClock
from storage.models import Reminder
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser, csrf_of
from tests.web.county import County
from tests.web.test_api import token_for

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # an internal key or value, e.g. school_confirmed
TAGS = re.compile(r"<[^>]+>")


def decisions(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/decisions"


async def test_a_case_goes_from_notice_to_report_order_and_justice_referral(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    principal = await token_for(uow_factory, county, "principal")
    township = await token_for(uow_factory, county, "township")
    c = county.cases["C"]  # notice served 10-03, not back by 10-10
    reply = await client.post(
        decisions(c), json={"decision": "order_compliance", "due": "2026-10-30"}, headers=township
    )
    assert reply.status_code == 409 and reply.json()["reason"] == "not_in_state"
    reply = await client.post(
        decisions(c), json={"decision": "escalate", "note": "县教育局、示范镇政府"}, headers=principal
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["case"]["status"] == "escalated" and body["event"]["kind"] == "reported"
    assert body["case"]["next_step"] == "order"
    again = await client.post(decisions(c), json={"decision": "escalate"}, headers=principal)
    assert again.status_code == 409 and again.json()["reason"] == "already_reported"
    # The statutory order comes from the township or county, not the school.
    order = {"decision": "order_compliance", "due": "2026-10-20", "note": "示范镇〔2026〕1号"}
    reply = await client.post(decisions(c), json=order, headers=principal)
    assert reply.status_code == 403 and reply.json()["reason"] == "role"
    reply = await client.post(decisions(c), json={**order, "due": "2026-10-01"}, headers=township)
    assert reply.status_code == 422  # a deadline in the past
    reply = await client.post(decisions(c), json=order, headers=township)
    assert reply.status_code == 200 and reply.json()["case"]["next_step"] == "compliance_check"
    early = await client.post(
        decisions(c), json={"decision": "refer_legal", "note": "司法所"}, headers=township
    )
    assert early.status_code == 409 and early.json()["reason"] == "order_not_expired"
    clock.advance(timedelta(days=8))  # 10-21: the order's deadline has passed
    reply = await client.post(
        decisions(c), json={"decision": "refer_legal", "note": "移交示范镇司法所"}, headers=township
    )
    assert reply.status_code == 200 and reply.json()["case"]["next_step"] == "legal_follow_up"
    events = (await client.get(f"/api/v1/cases/{c}/events", headers=principal)).json()
    assert [e["kind"] for e in events][-3:] == ["reported", "compliance_ordered", "legal_referral"]


async def test_clear_needs_a_clearing_code_and_proof_and_a_cleared_case_is_closed_then_reopened(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    principal = await token_for(uow_factory, county, "principal")
    b = county.cases["B"]
    for wrong, code in (
        ({"decision": "clear", "code": "B"}, "proof_required"),
        ({"decision": "clear", "code": "A2", "note": "x"}, "code_does_not_clear"),
        ({"decision": "clear", "code": "E", "note": "x"}, "use_defer"),
        ({"decision": "clear", "code": "Q", "note": "x"}, "unknown_code"),
    ):
        reply = await client.post(decisions(b), json=wrong, headers=principal)
        assert reply.status_code == 422 and reply.json()["reason"] == code, (wrong, reply.text)
    reply = await client.post(
        decisions(b),
        json={"decision": "clear", "code": "B", "note": "示范镇第二小学在读证明"},
        headers=principal,
    )
    assert reply.status_code == 200 and reply.json()["case"]["status"] == "cleared"
    assert reply.json()["case"]["category_code"] == "B"
    reply = await client.post(decisions(b), json={"decision": "approve_closing"}, headers=principal)
    assert reply.status_code == 200 and reply.json()["case"]["status"] == "closed"
    reply = await client.post(decisions(b), json={"decision": "reopen"}, headers=principal)
    assert reply.status_code == 422  # a reason is required
    reply = await client.post(
        decisions(b), json={"decision": "reopen", "note": "在读证明有误"}, headers=principal
    )
    assert reply.status_code == 200 and reply.json()["case"]["status"] == "absent"
    assert reply.json()["case"]["next_step"] == "first_visit"


async def test_decisions_are_scoped_and_closing_needs_a_proposal(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    other = await token_for(uow_factory, county, "other_principal")
    county_officer = await token_for(uow_factory, county, "county")
    principal = await token_for(uow_factory, county, "principal")
    reply = await client.post(
        decisions(county.cases["A"]), json={"decision": "approve_closing"}, headers=other
    )
    assert reply.status_code == 404
    reply = await client.post(
        decisions(county.cases["A"]), json={"decision": "approve_closing"}, headers=principal
    )
    assert reply.status_code == 409 and reply.json()["reason"] == "no_proposal"
    reply = await client.post(
        decisions(county.cases["E"]), json={"decision": "classify", "code": "A3"}, headers=county_officer
    )
    assert reply.status_code == 200 and reply.json()["case"]["status"] == "dropped_out"
    assert reply.json()["case"]["next_step"] == "persuade"
    reply = await client.post(
        decisions(county.cases["E"]), json={"decision": "nonsense"}, headers=county_officer
    )
    assert reply.status_code == 422
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/cases/{case_id}/decisions" in schema["paths"]
    assert "/api/v1/escalations/{escalation_id}/acknowledge" in schema["paths"]


async def test_the_case_page_offers_the_decisions_of_the_role_and_refuses_with_a_reason(
    as_user: AsUser, county: County
) -> None:
    client = await as_user("principal")
    c = county.cases["C"]
    page = await client.get(f"/cases/{c}")
    assert 'id="decide-escalate"' in page.text and 'id="decide-order_compliance"' not in page.text
    assert (
        await client.post(f"/cases/{c}/decisions", data={"decision": "escalate"})
    ).status_code == 403  # no CSRF
    token = csrf_of(page.text)
    reply = await client.post(f"/cases/{c}/decisions", data={"decision": "escalate", "csrf_token": token})
    assert reply.status_code == 303
    done = await client.get(reply.headers["location"])
    assert "书面上报已记录" in done.text and "上报阶段" in done.text
    refused = await client.post(f"/cases/{c}/decisions", data={"decision": "escalate", "csrf_token": token})
    assert refused.status_code == 409 and "已经书面上报过了" in refused.text
    other = await as_user("other_principal")
    token = csrf_of((await other.get("/dashboard")).text)
    reply = await other.post(f"/cases/{c}/decisions", data={"decision": "escalate", "csrf_token": token})
    assert reply.status_code == 404


async def test_an_escalation_is_taken_on_once_and_listed_until_then(
    as_user: AsUser,
    client: httpx.AsyncClient,
    county: County,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
) -> None:
    clock.advance(timedelta(days=1, hours=1))  # 10-14 10:00: B's first visit is two working days late
    async with uow_factory() as uow:  # the principal's digest item is delivered (domain.reminders.delivery)
        row = (
            await uow.session.scalars(
                select(Reminder).where(
                    Reminder.case_id == county.cases["B"],
                    Reminder.kind == "overdue",
                    Reminder.recipient_id == county.staff["principal"].id,
                )
            )
        ).one()
        escalation = await raise_for(uow, row, clock.now())
        assert escalation is not None
        await uow.commit()
    principal = await as_user("principal")
    todo = await principal.get("/todo")
    assert f"/escalations/{escalation.id}/acknowledge" in todo.text and "无人认领（1）" in todo.text
    reply = await principal.post(
        f"/cases/{county.cases['B']}/escalations/{escalation.id}/acknowledge",
        data={"csrf_token": csrf_of(todo.text)},
    )
    assert reply.status_code == 303
    page = await principal.get(reply.headers["location"])
    assert "已认领：陈校长" in page.text
    assert "无人认领（0）" in (await principal.get("/todo")).text
    township = await token_for(uow_factory, county, "township")
    listed = (await client.get("/api/v1/escalations", headers=township)).json()
    assert [(e["id"], e["acknowledged_by"]) for e in listed] == [(escalation.id, "陈校长")]
    again = await client.post(f"/api/v1/escalations/{escalation.id}/acknowledge", headers=township)
    assert again.status_code == 409 and again.json()["reason"] == "already_acknowledged"
    outside = await token_for(uow_factory, county, "other_principal")
    assert (
        await client.post(f"/api/v1/escalations/{escalation.id}/acknowledge", headers=outside)
    ).status_code == 404


async def test_case_pages_never_show_internal_keys(as_user: AsUser, county: County) -> None:
    for language in ("zh_CN", "en"):
        client = await as_user("county")
        token = csrf_of((await client.get("/dashboard")).text)
        await client.post("/language", data={"language": language, "csrf_token": token})
        for key, case_id in county.cases.items():
            page = await client.get(f"/cases/{case_id}")
            assert page.status_code == 200
            body = page.text.split("<main>", 1)[1].split("</main>", 1)[0]
            visible = TAGS.sub(" ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.DOTALL))
            assert not SNAKE.findall(visible), (language, key, SNAKE.findall(visible))


async def test_every_decision_is_refused_in_a_wrong_state_with_a_reason_and_outside_the_area_with_404(
    client: httpx.AsyncClient, county: County, uow_factory: UnitOfWorkFactory
) -> None:
    township = await token_for(uow_factory, county, "township")
    other = await token_for(uow_factory, county, "other_principal")
    closed, absent = county.cases["D"], county.cases["B"]
    valid = {  # each decision with the values it needs, so only the case's state can refuse it
        "classify": {"code": "A2"},
        "clear": {"code": "B", "note": "在读证明"},
        "mark_missing": {"note": "派出所协查 1 号"},
        "recheck": {"note": "仍未找到"},
        "escalate": {},
        "order_compliance": {"due": "2026-10-30"},
        "refer_legal": {"note": "司法所"},
        "defer": {"due": "2027-03-01", "note": "示范镇人民政府"},
        "propose_closing": {},
        "approve_closing": {},
        "return_for_rework": {"note": "再观察"},
        "reopen": {"note": "又缺勤"},
    }
    for decision, values in valid.items():
        case_id = absent if decision == "reopen" else closed  # nothing but reopen fits a closed case
        reply = await client.post(decisions(case_id), json={"decision": decision, **values}, headers=township)
        assert reply.status_code == 409, (decision, reply.text)
        assert reply.json()["reason"] and reply.json()["detail"], decision
        outside = await client.post(
            decisions(county.cases["A"]), json={"decision": decision, **values}, headers=other
        )
        assert outside.status_code == 404, decision
