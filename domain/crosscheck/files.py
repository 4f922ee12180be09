"""The four input files of a cross-check: their columns, and reading them into typed rows.

Reading goes through the roster's hardened reader (size and inflation caps, one-line RosterUnreadable,
header normalisation). A bad cell never refuses the file: the row keeps what could be read and carries
a note, so the child still lands in a bucket (to resolve) instead of disappearing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from domain.privacy.identity import id_problem, normalise_id
from domain.roster.cells import cell_text, parse_date
from domain.roster.files import KeyOf, RawSheet, raw_sheets
from domain.roster.format import (
    Column,
    RosterProblem,
    RosterUnreadable,
    SheetInfo,
    SheetSpec,
    normalise_header,
)

C = Column
ID_COLUMN = ("national_id", "身份证号", ("id_number", "身份证号码", "公民身份号码", "证件号码", "身份证件号"))
NAME_COLUMN = ("name", "姓名", ("name", "学生姓名", "儿童姓名"))
BIRTH_COLUMN = ("birth_date", "出生日期", ("birth_date", "birthday", "dob", "出生年月日"))
SPECS: dict[str, SheetSpec] = {
    s.key: s
    for s in (
        SheetSpec(
            "population",
            "户籍",
            ("population", "household_registration", "户籍人口", "适龄儿童"),
            (
                C(*NAME_COLUMN, help="姓名 full name"),
                C(*ID_COLUMN, help="18位身份证号，无户籍者可空 ID number; empty when the child has none"),
                C(
                    *BIRTH_COLUMN,
                    False,
                    help="可空，空时取身份证号中的日期 optional: taken from the ID number",
                ),
                C("sex", "性别", ("sex", "gender"), False, help="可选 男/女 optional"),
                C(
                    "registered_address",
                    "户籍地址",
                    ("registered_address", "registered_residence", "户籍地", "户口所在地", "户籍所在地"),
                    False,
                    help="户口登记地址 registered address",
                ),
                C(
                    "current_address",
                    "现住址",
                    ("current_address", "address", "现居住地址", "现居住地"),
                    False,
                    help="可选，已知时填写 optional: where the family actually lives",
                ),
            ),
        ),
        SheetSpec(
            "registry",
            "学籍",
            ("registry", "student_records", "学籍信息"),
            (
                C(
                    "number",
                    "学籍号",
                    ("student_number", "number", "全国学籍号"),
                    help="学籍号 student number",
                ),
                C(*NAME_COLUMN, help="姓名 full name"),
                C(*ID_COLUMN, False, help="身份证号 ID number (J 字头学籍号的学生可空)"),
                C(*BIRTH_COLUMN, False, help="可空，空时取身份证号中的日期 optional"),
                C(
                    "school",
                    "学校",
                    ("school", "school_name", "学校名称", "就读学校", "学校编码", "school_code"),
                    help="学校名称或学校编码 school name or code",
                ),
                C(
                    "status",
                    "学籍状态",
                    ("status", "record_status", "状态"),
                    False,
                    help="在读/在籍/休学/转出/辍学…；空为在读 empty means enrolled",
                ),
            ),
        ),
        SheetSpec(
            "poverty",
            "建档立卡",
            ("poverty", "防返贫监测", "脱贫户", "monitoring"),
            (C(*ID_COLUMN, help="身份证号 ID number"), C(*NAME_COLUMN, False, help="可选 optional")),
        ),
        SheetSpec(
            "disabled",
            "残联",
            ("disabled", "disability", "残疾儿童"),
            (
                C(*ID_COLUMN, help="身份证号 ID number"),
                C(*NAME_COLUMN, False, help="可选 optional"),
                C(
                    "disability_type",
                    "残疾类别",
                    ("disability_type", "残疾类型"),
                    False,
                    help="如 肢体、智力 type",
                ),
                C(
                    "disability_grade",
                    "残疾等级",
                    ("disability_grade", "grade", "等级"),
                    False,
                    help="一级…四级 grade",
                ),
            ),
        ),
    )
}
del C
INSTRUCTION_SHEETS = frozenset(normalise_header(n) for n in ("说明", "填写说明", "instructions", "readme"))
MAX_TEXT = 200


@dataclass(slots=True)
class ChildRow:
    """One row of any input: who, and what that list says about them. `notes` are problem codes
    (invalid_id, bad_birth_date) that send the child to the to-resolve bucket."""

    source: str  # population | registry | poverty | disabled
    row: int
    name: str | None
    national_id: str | None
    birth_date: date | None
    sex: str | None = None
    registered_address: str | None = None
    current_address: str | None = None
    number: str | None = None  # 学籍号
    school: str | None = None
    status: str | None = None
    disability_type: str | None = None
    disability_grade: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class InputFile:
    key: str
    label: str
    rows: list[ChildRow]
    skipped: int  # rows with neither a name nor an ID number


def _first_data_sheet() -> KeyOf:
    """A key function taking the first worksheet that is not an instructions sheet (a county's export
    names its sheet Sheet1 as often as 户籍)."""
    taken: list[str] = []

    def key_of(title: str) -> str | None:
        if normalise_header(title) in INSTRUCTION_SHEETS or taken:
            return None
        taken.append(title)
        return "data"

    return key_of


def _header_index(
    spec: SheetSpec, info: SheetInfo, header: Sequence[object]
) -> tuple[dict[str, int], list[str]]:
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for name in (col.zh, col.field, *col.aliases):
            lookup.setdefault(normalise_header(name), col.field)
    index: dict[str, int] = {}
    for i, value in enumerate(header):
        text = cell_text(value)
        found = lookup.get(normalise_header(text)) if text else None
        if found is not None and found not in index:
            index[found] = i
            info.headers[found] = str(text)
    missing = [col.zh for col in spec.columns if col.required and col.field not in index]
    return index, missing


def _text(values: Sequence[object], i: int | None) -> str | None:
    if i is None or i >= len(values):
        return None
    text = cell_text(values[i])
    return text[:MAX_TEXT] if text else None


def _row(key: str, number: int, values: Sequence[object], index: dict[str, int]) -> ChildRow | None:
    get = index.get
    name = _text(values, get("name"))
    raw_id = _text(values, get("national_id"))
    notes: list[str] = []
    national_id = None
    if raw_id:
        national_id = normalise_id(raw_id)
        if id_problem(national_id) is not None:
            notes.append("invalid_id")
            national_id = None
    if name is None and national_id is None and "invalid_id" not in notes:
        return None
    birth_cell = (
        values[index["birth_date"]] if "birth_date" in index and index["birth_date"] < len(values) else None
    )
    birth = parse_date(birth_cell) if cell_text(birth_cell) else None
    if cell_text(birth_cell) and birth is None:
        notes.append("bad_birth_date")
    if national_id is not None:
        from_id = date(int(national_id[6:10]), int(national_id[10:12]), int(national_id[12:14]))
        if birth is None:
            birth = from_id
        elif birth != from_id:
            notes.append("birth_differs_from_id")
    return ChildRow(
        key,
        number,
        name,
        national_id,
        birth,
        sex=_text(values, get("sex")),
        registered_address=_text(values, get("registered_address")),
        current_address=_text(values, get("current_address")),
        number=_text(values, get("number")),
        school=_text(values, get("school")),
        status=_text(values, get("status")),
        disability_type=_text(values, get("disability_type")),
        disability_grade=_text(values, get("disability_grade")),
        notes=notes,
    )


def read_input(key: str, path: Path) -> InputFile:
    """The typed rows of one input file (.xlsx: its first data sheet; .csv: UTF-8 or GB18030).
    Raises RosterUnreadable with one line when the file cannot be used at all."""
    problems: list[RosterProblem] = []
    # The workbook stays open only while the generator runs: rows are read inside the loop.
    for sheet in raw_sheets([path], problems, _first_data_sheet()):
        if problems:
            break
        return _read_sheet(SPECS[key], key, path, sheet)
    if problems:
        raise RosterUnreadable(path.name, "；".join(p.message for p in problems[:3]))
    raise RosterUnreadable(path.name, "没有数据表 (no data sheet)")


def _read_sheet(spec: SheetSpec, key: str, path: Path, sheet: RawSheet) -> InputFile:
    info = SheetInfo(sheet.label)
    rows: list[ChildRow] = []
    skipped = 0
    index: dict[str, int] | None = None
    for number, values in sheet.rows:
        if index is None:
            index, missing = _header_index(spec, info, values)
            if missing:
                raise RosterUnreadable(
                    path.name,
                    f"缺少列 {'、'.join(missing)} (column missing: see docs/crosscheck.md)",
                    row=number,
                )
            continue
        child = _row(key, number, values, index)
        if child is None:
            skipped += any(cell_text(v) is not None for v in values)
        else:
            rows.append(child)
    if index is None:
        raise RosterUnreadable(path.name, "文件是空的 (the file is empty)")
    return InputFile(key, sheet.label, rows, skipped)
