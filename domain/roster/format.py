"""The roster file format: sheets, columns, parsed rows and the problems reported about them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from domain.people.roles import Role


@dataclass(frozen=True)
class RosterProblem:
    """One thing wrong with the roster, located like a spreadsheet user would look for it."""

    sheet: str
    row: int  # spreadsheet row number (header = 1); 0 for a problem with the whole file or sheet
    column: str
    message: str

    def __str__(self) -> str:
        if self.row == 0 and not self.column:
            return f"{self.sheet}: {self.message}"
        return f"{self.sheet}/{self.row}/{self.column}: {self.message}"


class RosterInvalid(Exception):
    """The roster has problems; nothing was written. `problems` lists every one found."""

    def __init__(self, problems: list[RosterProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the roster; nothing was imported")
        self.problems = problems


class RosterUnreadable(Exception):
    """A file that cannot be read safely (damaged, malformed, oversized or a decompression bomb).
    Nothing was imported; `str()` is one line naming the file, and the sheet and row where known."""

    def __init__(self, file: str, message: str, *, sheet: str = "", row: int = 0) -> None:
        where = "/".join(x for x in (file, sheet, str(row) if row else "") if x)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Column:
    field: str
    zh: str  # the header the template uses
    aliases: tuple[str, ...]  # English and other accepted spellings
    required: bool = True  # the column must be present (cells may still be optional)
    help: str = ""  # one-line explanation for the instructions sheet and docs


@dataclass(frozen=True)
class SheetSpec:
    key: str  # areas | schools | classes | staff | students
    zh: str
    aliases: tuple[str, ...]
    columns: tuple[Column, ...]


def normalise_header(text: str) -> str:
    """Lower-cases and drops spaces, _ - * and any (…) note, so 'Student number (学籍)' ~ 'student_number'."""
    text = re.sub(r"[（(].*?[）)]", "", str(text))
    return re.sub(r"[\s_\-*＊]", "", text).lower()


C = Column
SHEETS: dict[str, SheetSpec] = {
    s.key: s
    for s in (
        SheetSpec(
            "areas",
            "区域",
            ("areas", "area"),
            (
                C("code", "编码", ("code", "area_code", "区域编码"), help="区域唯一编码 unique area code"),
                C("name", "名称", ("name", "区域名称"), help="区域名称 area name"),
                C(
                    "level",
                    "级别",
                    ("level",),
                    help="省/市/县/乡镇/村 (province/city/county/township/village)",
                ),
                C(
                    "parent_code",
                    "上级编码",
                    ("parent_code", "parent"),
                    False,
                    help="上级区域编码；省不填，县、市可留空 code of the parent area; empty for a province, "
                    "optional for a county or a city",
                ),
            ),
        ),
        SheetSpec(
            "schools",
            "学校",
            ("schools", "school"),
            (
                C("code", "学校编码", ("school_code", "code"), help="学校唯一编码 unique school code"),
                C("name", "学校名称", ("school_name", "name"), help="学校名称 school name"),
                C(
                    "township_code",
                    "所属乡镇编码",
                    ("township_code", "township"),
                    help="学校所在乡镇的区域编码 area code of the school's township",
                ),
                C("stage", "学段", ("stage",), help="小学/初中/九年一贯制 (primary/junior/nine_year)"),
            ),
        ),
        SheetSpec(
            "classes",
            "班级",
            ("classes", "class"),
            (
                C("school_code", "学校编码", ("school_code", "school"), help="学校编码 school code"),
                C("grade", "年级", ("grade",), help="1–9（初一=7）grade 1–9"),
                C(
                    "name",
                    "班级名称",
                    ("class_name", "name", "班级"),
                    help="校内唯一的班级名称 class name, unique in the school",
                ),
            ),
        ),
        SheetSpec(
            "staff",
            "教职工",
            ("staff", "teachers", "教师"),
            (
                C("name", "姓名", ("name",), help="姓名 full name"),
                C(
                    "phone",
                    "手机号",
                    ("phone", "mobile", "手机"),
                    help="11位手机号，唯一 11-digit mobile number, unique",
                ),
                C(
                    "role",
                    "角色",
                    ("role",),
                    help="班主任/科任教师/校长/村干部/乡镇专干/县教育局/市教育局/省教育厅/管理员",
                ),
                C(
                    "school_code",
                    "学校编码",
                    ("school_code", "school"),
                    False,
                    help="教师和校长必填 required for teachers and principals",
                ),
                C(
                    "area_code",
                    "负责区域编码",
                    ("area_code", "area"),
                    False,
                    help="村干部填村，乡镇专干填乡镇，县、市、省教育部门填县、市、省 "
                    "village / township / county / city / province for officers",
                ),
                C(
                    "homeroom_class",
                    "班主任班级",
                    ("homeroom_class", "class_teacher_of"),
                    False,
                    help="本校班级名称，班主任必填 class name in their school; required for class teachers",
                ),
                C(
                    "teaching_classes",
                    "任教班级",
                    ("teaching_classes", "classes"),
                    False,
                    help="本校班级名称，用；、，分隔 class names separated by ; 、 or ，",
                ),
                C(
                    "chat_account",
                    "企业微信账号",
                    ("userid", "chat_account", "企业微信", "企业微信UserID"),
                    False,
                    help="可选：企业微信成员账号(UserID)，填写后无需邀请码 optional: the member's UserID "
                    "in the county's 企业微信 app, bound at import (no invite code needed)",
                ),
            ),
        ),
        SheetSpec(
            "students",
            "学生",
            ("students", "student", "pupils"),
            (
                C(
                    "number",
                    "学籍号",
                    ("student_number", "number"),
                    help="学籍号，唯一 student record number, unique",
                ),
                C("name", "姓名", ("name",), help="姓名 full name"),
                C("sex", "性别", ("sex", "gender"), help="男/女 (M/F)"),
                C(
                    "birth_date",
                    "出生日期",
                    ("birth_date", "birthday", "dob"),
                    help="日期格式或 2015-03-01、2015/3/1、2015年3月1日 a date",
                ),
                C(
                    "national_id",
                    "身份证号",
                    ("national_id", "id_number"),
                    False,
                    help="可选，18位，校验位会被检查 optional 18-character ID number (checksum checked)",
                ),
                C("school_code", "学校编码", ("school_code", "school"), help="学校编码 school code"),
                C(
                    "class_name",
                    "班级",
                    ("class", "class_name", "班级名称"),
                    help="本校班级名称 class name in that school",
                ),
                C(
                    "village_code",
                    "家庭住址所在村编码",
                    ("village_code", "home_village", "村编码"),
                    False,
                    help="家庭住址所在村的区域编码 area code of the home village",
                ),
                C(
                    "registered_residence",
                    "户籍地",
                    ("registered_residence", "household_registration", "户籍所在地", "户口所在地"),
                    False,
                    help="可选，户口登记地址 optional: where the household is registered (户籍)",
                ),
                C(
                    "current_address",
                    "现住址",
                    ("current_address", "address", "现居住地址", "现居住地"),
                    False,
                    help="可选，实际居住地址（与户籍地不同时填写）optional: where the family actually lives",
                ),
                C(
                    "guardian_name",
                    "监护人姓名",
                    ("guardian_name", "guardian"),
                    False,
                    help="监护人姓名 guardian",
                ),
                C(
                    "guardian_relation",
                    "监护人关系",
                    ("guardian_relation", "relation"),
                    False,
                    help="如 父亲、母亲、祖母 relation to the child",
                ),
                C(
                    "guardian_phone",
                    "监护人电话",
                    ("guardian_phone",),
                    False,
                    help="监护人电话 guardian's phone",
                ),
                C(
                    "flags",
                    "重点群体",
                    ("key_groups", "flags"),
                    False,
                    help="可选，多个用；、，分隔，如 留守儿童；单亲家庭 key groups (codes or Chinese labels)",
                ),
            ),
        ),
    )
}
del C

LEVELS = {
    "省": "province",
    "省级": "province",
    "自治区": "province",
    "province": "province",
    "市": "city",
    "地市": "city",
    "地级市": "city",
    "自治州": "city",
    "city": "city",
    "县": "county",
    "county": "county",
    "乡镇": "township",
    "乡": "township",
    "镇": "township",
    "街道": "township",
    "township": "township",
    "村": "village",
    "社区": "village",
    "village": "village",
}
LEVEL_ZH = {"province": "省", "city": "市", "county": "县", "township": "乡镇", "village": "村"}
LEVEL_ORDER = ("province", "city", "county", "township", "village")  # outermost first
# The level an area's parent must be. A township's and a village's parent is required; a county may
# stand alone (most deployments are one county) or sit in a city, a city alone or in a province.
PARENT_LEVEL = {"city": "province", "county": "city", "township": "county", "village": "township"}
PARENT_REQUIRED = frozenset({"township", "village"})
# Levels whose officers' scope is the whole subtree: an import may not move areas between them.
OFFICER_LEVELS = ("county", "city", "province")
STAGES = {
    "小学": "primary",
    "primary": "primary",
    "初中": "junior",
    "junior": "junior",
    "九年一贯制": "nine_year",
    "nine_year": "nine_year",
    "nineyear": "nine_year",
}
# Roles tied to a school, and the area level each officer role answers for.
SCHOOL_ROLES = frozenset({Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.PRINCIPAL})
AREA_ROLE_LEVEL = {
    Role.VILLAGE_CADRE: "village",
    Role.TOWNSHIP_OFFICER: "township",
    Role.COUNTY_OFFICER: "county",
    Role.CITY_OFFICER: "city",
    Role.PROVINCE_OFFICER: "province",
}
SEXES = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}


@dataclass
class SheetInfo:
    """Where a sheet came from and which of its columns were present (absent optional columns
    leave the stored values alone)."""

    label: str  # the worksheet title or the CSV file name, as the user will recognise it
    headers: dict[str, str] = field(default_factory=dict)  # field -> header text in the file

    def header(self, spec: SheetSpec, field_name: str) -> str:
        """The header text to name in a problem: the user's own spelling if present."""
        return self.headers.get(field_name) or next(c.zh for c in spec.columns if c.field == field_name)


@dataclass
class AreaRow:
    row: int
    code: str
    name: str | None
    level: str | None
    parent_code: str | None


@dataclass
class SchoolRow:
    row: int
    code: str
    name: str | None
    township_code: str | None
    stage: str | None


@dataclass
class ClassRow:
    row: int
    school_code: str
    grade: int | None
    name: str


@dataclass
class StaffRow:
    row: int
    name: str | None
    phone: str
    role: Role | None
    school_code: str | None = None
    area_code: str | None = None
    homeroom_class: str | None = None
    teaching_classes: tuple[str, ...] = ()
    chat_account: str | None = None  # the person's account on the roster's chat channel (pre-bound)


@dataclass
class StudentRow:
    row: int
    number: str
    name: str | None
    sex: str | None
    birth_date: date | None
    school_code: str | None
    class_name: str | None
    national_id: str | None = None
    village_code: str | None = None
    guardian_name: str | None = None
    guardian_relation: str | None = None
    guardian_phone: str | None = None
    flags: tuple[str, ...] = ()  # as written in the file: codes or labels, checked against the DB
    registered_residence: str | None = None  # 户籍地
    current_address: str | None = None  # 现住址, where the family actually lives


@dataclass
class RosterData:
    """A parsed roster: rows per sheet plus where each sheet came from."""

    areas: list[AreaRow] = field(default_factory=list)
    schools: list[SchoolRow] = field(default_factory=list)
    classes: list[ClassRow] = field(default_factory=list)
    staff: list[StaffRow] = field(default_factory=list)
    students: list[StudentRow] = field(default_factory=list)
    sheets: dict[str, SheetInfo] = field(default_factory=dict)

    def info(self, key: str) -> SheetInfo:
        """The sheet's origin; in-memory data (demo) has every column and the Chinese names."""
        if key not in self.sheets:
            spec = SHEETS[key]
            self.sheets[key] = SheetInfo(spec.zh, {c.field: c.zh for c in spec.columns})
        return self.sheets[key]

    def has_column(self, key: str, field_name: str) -> bool:
        return field_name in self.info(key).headers


@dataclass
class ImportSummary:
    """Counts per sheet key (areas, schools, classes, staff, students)."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SHEETS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SHEETS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SHEETS, 0))
