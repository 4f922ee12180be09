"""四查三比对 rules: each crafted child lands in its bucket with its reason; files in CSV and .xlsx alike."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from domain.crosscheck.buckets import AgeRule
from domain.crosscheck.files import read_input
from domain.crosscheck.match import match
from domain.crosscheck.names import pinyin, simplified, written
from domain.crosscheck.proposal import Proposal, build_proposal, changes_since, read_previous, write_proposal
from domain.roster.format import RosterUnreadable
from storage.crosscheck_queries import RosterPupil
from tests.fixtures import crosscheck as cc

AGES = AgeRule.for_day(date(2026, 9, 1))
SCHOOLS = frozenset({"T-S1", cc.SCHOOL})
PUPILS = [
    RosterPupil(1, cc.ROSTER["present"], "张小一", cc.B1, None, "T-S1", cc.SCHOOL, False),
    RosterPupil(2, cc.ROSTER["absent"], "王小二", cc.B2, None, "T-S1", cc.SCHOOL, True, "2026-0001"),
    RosterPupil(3, cc.ROSTER["variant"], "陈小六", cc.B2, None, "T-S1", cc.SCHOOL, False),
]


def write(path: Path, table: cc.Table) -> Path:
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            csv.writer(fh).writerows(table)
    else:
        book = Workbook()
        book.worksheets[0].title = "说明"
        sheet = book.create_sheet("Sheet1")
        for row in table:
            sheet.append(row)
        book.save(path)
    return path


def run(folder: Path, suffix: str, registry: cc.Table | None = None) -> Proposal:
    inputs = {
        key: read_input(key, write(folder / f"{key}{suffix}", table))
        for key, table in (
            ("population", cc.population()),
            ("registry", registry or cc.registry()),
            ("poverty", cc.poverty()),
            ("disabled", cc.disabled()),
        )
    }
    people = match(
        inputs["population"].rows,
        inputs["registry"].rows,
        PUPILS,
        inputs["poverty"].rows,
        inputs["disabled"].rows,
    )
    return build_proposal(people, AGES, SCHOOLS)


def by_id(proposal: Proposal) -> dict[str, tuple[str, str]]:
    found = {}
    for entry in proposal.entries:
        for national_id in entry.person.national_ids():
            found[national_id] = (entry.verdict.bucket, entry.verdict.reason)
    return found


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_every_child_lands_in_its_bucket(tmp_path: Path, suffix: str) -> None:
    proposal = run(tmp_path, suffix)
    found = by_id(proposal)
    for name, expected in cc.EXPECTED.items():
        assert found[cc.ID[name]] == expected, name
    # Every list row and roster pupil ends in exactly one child.
    rows = [(r.source, r.row) for e in proposal.entries for r in e.person.rows()]
    assert len(rows) == len(set(rows)) == 9 + 8 + 2 + 1
    assert sorted(p.id for e in proposal.entries for p in e.person.pupils) == [1, 2, 3]


def test_confidence_and_candidates(tmp_path: Path) -> None:
    entries = {next(iter(e.person.national_ids()), ""): e for e in run(tmp_path, ".csv").entries}
    variant = entries[cc.ID["variant"]].person
    assert (variant.method, variant.confidence) == ("variant_birth", 0.85)
    assert entries[cc.ID["present"]].person.confidence == 1.0
    low = entries[cc.ID["pinyin"]].person
    # Never joined: the record stays a child of its own, named as a candidate.
    assert low.registry == [] and [r.name for r in low.candidates] == ["吴九"]
    assert entries[cc.ID["missing"]].person.poverty
    assert entries[cc.ID["disabled_only"]].person.disabled is not None


def test_name_keys() -> None:
    assert written(" 阿依古丽·买买提 ") == "阿依古丽买买提"
    assert simplified("陳小六") == "陈小六"
    assert pinyin("吴久") == pinyin("吴九")


def test_age_rule_cutoff() -> None:
    assert AgeRule.for_day(date(2026, 3, 1)).cutoff == date(2025, 8, 31)
    assert AgeRule.for_day(date(2026, 7, 1)).cutoff == date(2026, 8, 31)
    rule = AgeRule.for_day(date(2026, 9, 1))
    assert rule.age(date(2020, 8, 31)) == 6 and rule.age(date(2020, 9, 1)) == 5


def test_bad_cells_go_to_resolve_and_missing_columns_refuse(tmp_path: Path) -> None:
    table: cc.Table = [
        ["姓名", "身份证号", "出生日期"],
        ["钱小甲", "110101201503011234", None],
        ["钱小乙", None, "2015年13月1日"],
    ]
    rows = read_input("population", write(tmp_path / "p.csv", table)).rows
    proposal = build_proposal(match(rows, [], []), AGES, SCHOOLS)
    assert sorted(e.verdict.reason for e in proposal.entries) == ["bad_birth_date", "invalid_id"]
    no_id: cc.Table = [["姓名"], ["钱小丙"]]
    with pytest.raises(RosterUnreadable, match="身份证号"):
        read_input("poverty", write(tmp_path / "poor.csv", no_id))
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    with pytest.raises(RosterUnreadable):
        read_input("registry", tmp_path / "bad.xlsx")


def test_rerun_shows_only_what_changed(tmp_path: Path) -> None:
    first = run(tmp_path, ".csv")
    old = tmp_path / "old.xlsx"
    write_proposal(first, old, language="zh_CN")
    assert oct(old.stat().st_mode & 0o777) == "0o600"
    previous = read_previous(old)
    assert len(previous) == len(first.entries)
    assert changes_since(run(tmp_path, ".csv"), previous, "zh_CN") == []
    newer = cc.registry() + [["G" + cc.ID["missing"], "李小三", cc.ID["missing"], None, cc.OTHER, "在读"]]
    second = run(tmp_path, ".csv", newer)
    changes = changes_since(second, previous, "zh_CN")
    assert [(c.kind, c.before, c.after) for c in changes] == [("changed", "out_of_school", "elsewhere")]
    out = tmp_path / "new.xlsx"
    write_proposal(second, out, language="en", changes=changes)
    book = load_workbook(out, read_only=True)
    assert book.sheetnames == ["Summary", "Results", "Changes"]
    rows = list(book["Changes"].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][4] == "李小三"
