"""The ledgers' text columns: 去向, 劝返措施 and 核查情况, from a case's row and events (no database)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from domain.reports.ledger_text import LedgerLabels, measures, verification, visit_count, whereabouts

CODES = {
    ("verification_2019", "E"): ("延缓入学", "Deferred enrolment"),
    ("verification_2019", "D"): ("省外就读无学籍", "In school out-of-province, unregistered"),
    ("record_system", "A2"): ("厌学辍学", "Dropout: school aversion"),
}
LABELS = LedgerLabels(
    codes=CODES, staff={}, pii=False, tz=ZoneInfo("Asia/Shanghai"), today=date(2026, 10, 13)
)
ELSEWHERE = {"outcome": "enrolled_elsewhere", "other_school": "广州市某小学"}


@pytest.mark.parametrize(
    "status, returned_on, visit, expected",
    [
        ("persuading", None, ELSEWHERE, "已在他校就读：广州市某小学"),
        (
            "persuading",
            None,
            {"outcome": "agreed_to_return", "promised_return_on": "2026-10-20"},
            "同意返校（承诺2026-10-20返校）",
        ),
        ("persuading", None, {"outcome": "other", "outcome_detail": "随父母在外省"}, "其他：随父母在外省"),
        ("dropped_out", None, None, "厌学辍学"),  # no visit yet: the classification
        ("cleared", None, ELSEWHERE, "厌学辍学"),  # a decision outranks what a visit found
        ("retention", date(2026, 10, 8), ELSEWHERE, "已复学"),
        ("closed", date(2026, 10, 8), None, "已复学"),
        ("closed", None, None, "厌学辍学"),  # closed after being cleared, never returned
    ],
)
def test_whereabouts(status: str, returned_on: date | None, visit: object, expected: str) -> None:
    assert whereabouts(LABELS, status, returned_on, visit, "厌学辍学") == expected


def test_measures_count_visits_by_mode_and_name_each_other_measure_once() -> None:
    events = "visit:phone,visit:,visit:home,visit:drone,visit:phone,notice_served,notice_issued,escalated,legal_referral"
    assert measures(LABELS, events) == (
        "家访5次（入户家访2次、电话2次、drone1次）；送达《劝返复学通知书》；书面上报；移交司法途径"
    )
    assert visit_count(events) == 5 and visit_count(None) == 0
    assert measures(LABELS, None) == ""
    assert measures(LABELS, "escalated") == "书面上报"  # escalated by the system when a notice expired


def test_verification_outcome_of_each_decision() -> None:
    assert verification(
        LABELS, "deferred", {"code": "E", "until": "2027-09-01", "approved_by": "东山村委会"}
    ) == ("E 延缓入学：东山村委会批准缓学至2027-09-01")
    assert (
        verification(LABELS, "cleared", {"code": "D", "proof": "转学证明"})
        == "D 省外就读无学籍：证明 转学证明"
    )
    assert verification(LABELS, "classified", {"code": "A2", "note": None}) == "A2 厌学辍学"
    assert verification(LABELS, "reopened", {"note": "又缺勤"}) == ""  # being verified again
    assert verification(LABELS, None, None) == ""
