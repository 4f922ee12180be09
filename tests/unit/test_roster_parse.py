"""Roster parsing without a database: headers, aliases, dates, encodings, located problems."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from domain.people.roles import Role
from domain.roster.cells import normalise_mobile, parse_date, parse_grade, split_items
from domain.roster.files import sheet_key
from domain.roster.importer import RosterInvalid, RosterProblem, read_roster
from tests.fixtures.roster import Sheets, fake_id, good_sheets, write_csv, write_xlsx

TODAY = date(2026, 10, 13)


def _problems(tmp_path: Path, sheets: dict[str, list[list[object]]]) -> list[str]:
    with pytest.raises(RosterInvalid) as exc:
        read_roster([write_xlsx(tmp_path / "r.xlsx", sheets)], today=TODAY)
    return [str(p) for p in exc.value.problems]


def _students(*rows: list[object], header: list[object] | None = None) -> dict[str, list[list[object]]]:
    return {"学生": [header or good_sheets()["学生"][0], *rows]}


def _student(**changes: object) -> list[object]:
    row = list(good_sheets()["学生"][1])
    columns = {"number": 0, "sex": 2, "birth": 3, "id": 4, "phone": 10, "flags": 11}
    for key, value in changes.items():
        row[columns[key]] = value
    return row


def test_good_workbook_parses_every_sheet(tmp_path: Path) -> None:
    data = read_roster([write_xlsx(tmp_path / "r.xlsx", good_sheets())], today=TODAY)
    assert [len(x) for x in (data.areas, data.schools, data.classes, data.staff, data.students)] == [
        4,
        2,
        3,
        7,
        5,
    ]
    assert [a.level for a in data.areas] == ["county", "township", "village", "village"]
    assert [c.grade for c in data.classes] == [5, 6, 7]
    assert data.staff[0].phone == "13800000001" and data.staff[1].phone == "13800000002"
    assert data.staff[1].role is Role.CLASS_TEACHER and data.staff[3].role is Role.PRINCIPAL
    assert data.staff[2].teaching_classes == ("五年级(1)班", "六年级(1)班")
    assert [s.birth_date for s in data.students] == [
        date(2016, 3, 1),
        date(2015, 7, 15),
        date(2016, 1, 9),
        date(2014, 5, 3),
        date(2014, 8, 9),
    ]
    assert data.students[1].flags == ("low_income", "单亲家庭")
    assert data.students[3].guardian_phone == "0731-1234567" and data.students[3].village_code is None
    assert data.students[0].row == 2 and data.sheets["students"].label == "学生"


def test_english_aliases_and_header_notes(tmp_path: Path) -> None:
    header: list[object] = [
        "Student Number*",
        "name",
        "Gender",
        "出生日期（YYYY-MM-DD）",
        "school_code",
        "class",
    ]
    sheets: Sheets = {
        "students": [header, ["T1", "测试", "female", "2016.3.1", "S", "一班"]],
        "Staff": [["Name", "Mobile", "role"], ["测试管理员", "+86 138 0000 0009", "administrator"]],
    }
    data = read_roster([write_xlsx(tmp_path / "r.xlsx", sheets)], today=TODAY)
    [s] = data.students
    assert (s.number, s.sex, s.birth_date, s.class_name) == ("T1", "F", date(2016, 3, 1), "一班")
    assert data.staff[0].phone == "13800000009" and data.staff[0].role is Role.ADMIN
    assert not data.has_column("students", "flags")  # absent optional columns leave stored values alone


def test_registered_residence_and_current_address_are_optional_columns(tmp_path: Path) -> None:
    header = [*good_sheets()["学生"][0], "户籍地", "Current address (现住址)"]
    rows = [
        [*good_sheets()["学生"][1], "测试县测试镇测试一村3组", "测试市新区幸福路8号"],
        [*good_sheets()["学生"][2], "测试县测试镇测试二村", None],
    ]
    data = read_roster([write_xlsx(tmp_path / "r.xlsx", _students(*rows, header=header))], today=TODAY)
    assert [(s.registered_residence, s.current_address) for s in data.students] == [
        ("测试县测试镇测试一村3组", "测试市新区幸福路8号"),
        ("测试县测试镇测试二村", None),
    ]
    assert data.has_column("students", "registered_residence") and data.has_column(
        "students", "current_address"
    )
    without = read_roster([write_xlsx(tmp_path / "old.xlsx", good_sheets())], today=TODAY)
    assert not without.has_column("students", "registered_residence")
    assert without.students[0].registered_residence is None


def test_an_address_longer_than_the_database_keeps_is_a_problem(tmp_path: Path) -> None:
    header = [*good_sheets()["学生"][0], "现住址"]
    problems = _problems(tmp_path, _students([*good_sheets()["学生"][1], "村" * 201], header=header))
    assert [p.split(":")[0] for p in problems] == ["学生/2/现住址"]
    assert "200" in problems[0]


@pytest.mark.parametrize(
    "value, expected",
    [
        (datetime(2016, 3, 1), date(2016, 3, 1)),
        ("2016-03-01", date(2016, 3, 1)),
        ("2016/3/1", date(2016, 3, 1)),
        ("2016年3月1日", date(2016, 3, 1)),
        ("20160301", date(2016, 3, 1)),
        ("2016-03-01 00:00:00", date(2016, 3, 1)),
        ("2016-02-30", None),
        ("3/1/2016", None),
        ("昨天", None),
    ],
)
def test_date_formats(value: object, expected: date | None) -> None:
    assert parse_date(value) == expected


def test_small_readers() -> None:
    assert parse_grade("初三") == 9 and parse_grade("五年级") == 5 and parse_grade("10") is None
    assert split_items("a；b、c,a ，") == ("a", "b", "c")
    assert normalise_mobile("86 13800000001") == "13800000001"
    assert (
        sheet_key("Students") == "students" and sheet_key("教职工") == "staff" and sheet_key("说明") is None
    )
    assert str(RosterProblem("学生", 3, "性别", "x")) == "学生/3/性别: x"
    assert str(RosterProblem("a.csv", 0, "", "x")) == "a.csv: x"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    rows = good_sheets()["学生"]
    data = read_roster([write_csv(tmp_path / "学生.csv", rows, encoding)], today=TODAY)
    assert [s.name for s in data.students][:2] == ["测试学生一", "测试学生二"]
    assert data.students[0].birth_date == date(2016, 3, 1)


def test_csv_needs_a_sheet_name_and_a_known_type(tmp_path: Path) -> None:
    bad_name = write_csv(tmp_path / "data.csv", [["a"]])
    other = tmp_path / "r.txt"
    other.write_text("x")
    with pytest.raises(RosterInvalid) as exc:
        read_roster([bad_name, other, tmp_path / "missing.xlsx"], today=TODAY)
    assert [p.sheet for p in exc.value.problems] == ["data.csv", "r.txt", "missing.xlsx"]


def test_missing_column_and_empty_cells(tmp_path: Path) -> None:
    header: list[object] = ["学籍号", "姓名", "性别", "出生日期", "学校编码"]  # 班级 missing
    problems = _problems(tmp_path, _students(["T1", None, "男", "2016-03-01", "S"], header=header))
    assert problems == [
        "学生/1/班级: 缺少此列 (column missing)",
        "学生/2/姓名: 必填项为空 (required cell is empty)",
    ]


def test_student_cell_problems_are_located(tmp_path: Path) -> None:
    bad_id = fake_id(date(2016, 3, 1), 11)[:-1] + "X"
    problems = _problems(
        tmp_path,
        _students(
            _student(number="A1", sex="公", birth="2016-02-30"),
            _student(number="A2", id=bad_id),
            _student(number="A3", birth=date(2027, 1, 1), id=None),
            _student(number="A4", birth=date(2024, 1, 1), id=None),
            _student(
                number="A5", birth="2016-03-02", id=fake_id(date(2016, 3, 1), 13)
            ),  # differs from the ID
            _student(number="A1", phone="call me", id=None),
        ),
    )
    locations = [p.split(":")[0] for p in problems]
    assert locations == [
        "学生/2/性别",
        "学生/2/出生日期",
        "学生/3/身份证号",
        "学生/4/出生日期",
        "学生/5/出生日期",
        "学生/6/身份证号",
        "学生/7/监护人电话",
        "学生/7/学籍号",
    ]
    assert "checksum" in problems[2] and "年龄 2 岁" in problems[4] and "duplicate of row 2" in problems[7]


def test_staff_rules_by_role(tmp_path: Path) -> None:
    header = good_sheets()["教职工"][0]
    sheets: Sheets = {
        "教职工": [
            header,
            ["测试一", "12345", "班主任", "S", None, None, None],
            ["测试二", "13800000002", "厨师", None, None, None, None],
            ["测试三", "13800000003", "村干部", "S", None, "一班", None],
            ["测试四", "13800000004", "班主任", "S", None, "一班", None],
            ["测试五", "13800000005", "班主任", "S", None, "一班", None],
            ["测试六", "13800000004", "管理员", None, "T", None, None],
        ]
    }
    locations = [p.split(":")[0] for p in _problems(tmp_path, sheets)]
    assert locations == [
        "教职工/2/手机号",
        "教职工/2/班主任班级",
        "教职工/3/角色",
        "教职工/4/学校编码",
        "教职工/4/班主任班级",
        "教职工/4/负责区域编码",
        "教职工/6/班主任班级",
        "教职工/7/负责区域编码",
        "教职工/7/手机号",
    ]


def test_area_rules_and_unknown_headers_ignored(tmp_path: Path) -> None:
    sheets: Sheets = {
        "区域": [
            ["编码", "名称", "级别", "上级编码", "备注"],
            ["C", "测试省", "省", "X", "note"],
            ["T", "测试镇", "乡镇", None, None],
            ["V", "测试村", "组", "T", None],
            ["C", "测试县二", "县", None, None],
        ],
        "说明": [["anything"]],
    }
    locations = [p.split(":")[0] for p in _problems(tmp_path, sheets)]
    assert locations == ["区域/2/上级编码", "区域/3/上级编码", "区域/4/级别", "区域/5/编码"]
