"""Turns raw roster sheets into typed rows, reporting every cell-level and in-file problem."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from domain.people.roles import ROLE_LABELS, Role, parse_role
from domain.privacy.identity import id_problem, normalise_id
from domain.roster.cells import RowCells, cell_text, parse_grade, split_items
from domain.roster.files import RawSheet, raw_sheets
from domain.roster.format import (
    AREA_ROLE_LEVEL,
    LEVEL_ZH,
    LEVELS,
    PARENT_REQUIRED,
    SCHOOL_ROLES,
    SEXES,
    SHEETS,
    STAGES,
    AreaRow,
    ClassRow,
    RosterData,
    RosterProblem,
    SchoolRow,
    SheetInfo,
    SheetSpec,
    StaffRow,
    StudentRow,
    normalise_header,
)

Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 2000
ADDRESS_MAX = 200  # students.registered_residence / current_address
MIN_AGE, MAX_AGE = 3, 20  # wide on purpose: over-age pupils and early starters exist
ROLE_NAMES = "/".join(zh for zh, _ in ROLE_LABELS.values())

# A 企业微信 member's UserID: 1–64 characters of letters, digits and _ - @ ., starting with a letter or digit.
ACCOUNT_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-@.]{0,63}$")


def _area(c: RowCells, today: date) -> AreaRow | None:
    code = c.text("code", max_len=32)
    name = c.text("name", max_len=100)
    level = c.choice("level", LEVELS, "省/市/县/乡镇/村")
    parent = c.text("parent_code", required=False, max_len=32)
    if level == "province" and parent:
        c.problem("parent_code", "省级区域不填上级编码 (a province has no parent area)")
    elif level in PARENT_REQUIRED and parent is None:
        c.problem("parent_code", f"{LEVEL_ZH[level]}必须填写上级编码 (parent area code is required)")
    return AreaRow(c.row, code, name, level, parent) if code else None


def _school(c: RowCells, today: date) -> SchoolRow | None:
    code = c.text("code", max_len=32)
    row = SchoolRow(
        c.row,
        code or "",
        c.text("name", max_len=100),
        c.text("township_code", max_len=32),
        c.choice("stage", STAGES, "小学/初中/九年一贯制"),
    )
    return row if code else None


def _class(c: RowCells, today: date) -> ClassRow | None:
    school, name = c.text("school_code", max_len=32), c.text("name")
    grade_text = c.text("grade")
    grade = parse_grade(grade_text) if grade_text else None
    if grade_text and grade is None:
        c.problem("grade", f"“{grade_text}” 不是1–9年级 (grade must be 1 to 9)")
    return ClassRow(c.row, school, grade, name) if school and name else None


def _staff(c: RowCells, today: date) -> StaffRow | None:
    name, phone = c.text("name"), c.mobile("phone")
    role_text = c.text("role")
    role = parse_role(role_text) if role_text else None
    if role_text and role is None:
        c.problem("role", f"未知角色“{role_text}”，应为 {ROLE_NAMES} (unknown role)")
    school = c.text("school_code", required=False, max_len=32)
    area = c.text("area_code", required=False, max_len=32)
    homeroom = c.text("homeroom_class", required=False)
    teaching = split_items(c.text("teaching_classes", required=False, max_len=1000))
    account = c.text("chat_account", required=False, max_len=64)
    if account and not ACCOUNT_SHAPE.match(account):
        c.problem(
            "chat_account",
            "账号只能由字母、数字和 _ - @ . 组成，且以字母或数字开头 "
            "(letters, digits and _ - @ . only, starting with a letter or digit)",
        )
        account = None
    if role in SCHOOL_ROLES:
        if not school:
            c.problem(
                "school_code", "教师和校长必须填写学校编码 (teachers and principals need a school code)"
            )
        if area:
            c.problem("area_code", "教师和校长不填负责区域 (leave empty for school staff)")
        if role is Role.CLASS_TEACHER and not homeroom:
            c.problem("homeroom_class", "班主任必须填写班主任班级 (a class teacher needs their class)")
    elif role is not None:
        if school:
            c.problem("school_code", "只有教师和校长填写学校编码 (only school staff belong to a school)")
        for field, value in (("homeroom_class", homeroom), ("teaching_classes", teaching)):
            if value:
                c.problem(field, "只有教师和校长有任教班级 (only school staff teach classes)")
        level = AREA_ROLE_LEVEL.get(role)
        if level and not area:
            c.problem(
                "area_code",
                f"必须填写负责的{LEVEL_ZH[level]}的区域编码 (area code of their {level} is required)",
            )
        if level is None and area:
            c.problem("area_code", "管理员不填负责区域 (an administrator has no area)")
    return StaffRow(c.row, name, phone, role, school, area, homeroom, teaching, account) if phone else None


def _student(c: RowCells, today: date) -> StudentRow | None:
    number = c.text("number", max_len=32)
    if number and any(ch.isspace() for ch in number):
        c.problem("number", "学籍号中不能有空格 (no spaces in the student number)")
    sex = c.choice("sex", SEXES, "男/女")
    birth = c.date("birth_date")
    if birth and birth > today:
        c.problem("birth_date", "出生日期在今天之后 (the date is in the future)")
    elif birth:
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        if not MIN_AGE <= age <= MAX_AGE:
            c.problem(
                "birth_date",
                f"年龄 {age} 岁，不像义务教育阶段的学生（{MIN_AGE}–{MAX_AGE} 岁）"
                f"(implausible age for a pupil)",
            )
    national_id = c.text("national_id", required=False, max_len=30)
    if national_id:
        national_id = normalise_id(national_id)
        if why := id_problem(national_id):
            c.problem("national_id", f"身份证号无效 (invalid ID number: {why})")
        elif birth and national_id[6:14] != birth.strftime("%Y%m%d"):
            c.problem(
                "national_id",
                "身份证号中的出生日期与出生日期一栏不一致 (birth date differs from the ID number)",
            )
        elif sex and ("M" if int(national_id[16]) % 2 else "F") != sex:
            c.problem("national_id", "身份证号中的性别与性别一栏不一致 (sex differs from the ID number)")
    row = StudentRow(
        c.row,
        number or "",
        c.text("name"),
        sex,
        birth,
        c.text("school_code", max_len=32),
        c.text("class_name"),
        national_id,
        c.text("village_code", required=False, max_len=32),
        c.text("guardian_name", required=False),
        c.text("guardian_relation", required=False, max_len=20),
        c.phone("guardian_phone"),
        split_items(c.text("flags", required=False, max_len=500)),
        c.text("registered_residence", required=False, max_len=ADDRESS_MAX),
        c.text("current_address", required=False, max_len=ADDRESS_MAX),
    )
    return row if number else None


_PARSERS: dict[str, Callable[[RowCells, date], Any]] = {
    "areas": _area,
    "schools": _school,
    "classes": _class,
    "staff": _staff,
    "students": _student,
}


def _map_headers(
    spec: SheetSpec, info: SheetInfo, header: Sequence[object], problems: list[RosterProblem]
) -> dict[int, str]:
    """Column index -> field for the recognised headers; unknown headers are ignored (notes)."""
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for name in (col.zh, col.field, *col.aliases):
            lookup.setdefault(normalise_header(name), col.field)
    index: dict[int, str] = {}
    for i, value in enumerate(header):
        text = cell_text(value)
        field = lookup.get(normalise_header(text)) if text else None
        if field is None:
            continue
        if field in info.headers:
            problems.append(
                RosterProblem(
                    info.label,
                    1,
                    str(text),
                    f"与“{info.headers[field]}”是同一列，重复了 (the column appears twice)",
                )
            )
            continue
        info.headers[field] = str(text)
        index[i] = field
    for col in spec.columns:
        if col.required and col.field not in info.headers:
            problems.append(RosterProblem(info.label, 1, col.zh, "缺少此列 (column missing)"))
    return index


def parse_sheets(
    sheets: Iterable[RawSheet],
    problems: list[RosterProblem],
    *,
    today: date,
    progress: Progress | None = None,
) -> RosterData:
    """Typed rows of every sheet; each sheet's rows are consumed before the next is read."""
    data = RosterData()
    for sheet in sheets:
        spec = SHEETS[sheet.key]
        info = data.sheets[sheet.key] = SheetInfo(sheet.label)
        target: list[Any] = getattr(data, sheet.key)
        index: dict[int, str] | None = None
        last = 0
        for number, values in sheet.rows:
            last = number
            if index is None:
                index = _map_headers(spec, info, values, problems)
                continue
            cells = {field: values[i] for i, field in index.items() if i < len(values)}
            if any(cell_text(v) is not None for v in cells.values()):
                row = _PARSERS[sheet.key](RowCells(spec, info, number, cells, problems), today)
                if row is not None:
                    target.append(row)
            if progress and number % PROGRESS_EVERY == 0:
                # Total 0 = unknown: some writers leave out the size record of the sheet.
                progress(info.label, number, sheet.total if sheet.total >= number else 0)
        if progress:
            progress(info.label, last, last)
    return data


def _duplicates(
    data: RosterData,
    key: str,
    rows: Iterable[Any],
    field: str,
    what: str,
    value: Callable[[Any], Hashable | None],
    problems: list[RosterProblem],
) -> None:
    first: dict[Hashable, int]
    info, first = data.info(key), {}
    for r in rows:
        k = value(r)
        if k is None:
            continue
        if k in first:
            problems.append(
                RosterProblem(
                    info.label,
                    r.row,
                    info.header(SHEETS[key], field),
                    f"{what}重复，与第 {first[k]} 行相同 (duplicate of row {first[k]})",
                )
            )
        else:
            first[k] = r.row


def duplicate_problems(data: RosterData) -> list[RosterProblem]:
    """Keys that must be unique within the import: codes, phones, student numbers, ID numbers,
    one class teacher per class."""
    p: list[RosterProblem] = []
    _duplicates(data, "areas", data.areas, "code", "区域编码", lambda r: r.code, p)
    _duplicates(data, "schools", data.schools, "code", "学校编码", lambda r: r.code, p)
    _duplicates(data, "classes", data.classes, "name", "班级", lambda r: (r.school_code, r.name), p)
    _duplicates(data, "staff", data.staff, "phone", "手机号", lambda r: r.phone, p)
    _duplicates(data, "staff", data.staff, "chat_account", "企业微信账号", lambda r: r.chat_account, p)
    _duplicates(
        data,
        "staff",
        data.staff,
        "homeroom_class",
        "班主任班级",
        lambda r: (r.school_code, r.homeroom_class) if r.homeroom_class and r.role in SCHOOL_ROLES else None,
        p,
    )
    _duplicates(data, "students", data.students, "number", "学籍号", lambda r: r.number, p)
    _duplicates(data, "students", data.students, "national_id", "身份证号", lambda r: r.national_id, p)
    return p


def parse_roster(
    paths: Sequence[Path], *, today: date, progress: Progress | None = None
) -> tuple[RosterData, list[RosterProblem]]:
    """Parsed rows and every cell-level problem (duplicates: duplicate_problems)."""
    problems: list[RosterProblem] = []
    data = parse_sheets(raw_sheets(paths, problems), problems, today=today, progress=progress)
    return data, problems
