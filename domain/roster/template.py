"""Generates the roster template workbook (docs/roster-template.xlsx) from the column definitions."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from domain.people.roles import ROLE_LABELS
from domain.privacy.identity import id_check_char
from domain.roster.format import SHEETS

_BIRTH = date(2016, 3, 1)
# Fictional example: region 110101 with an invented sequence number; the check digit is computed.
_ID17 = "110101" + _BIRTH.strftime("%Y%m%d") + "003"
EXAMPLES: dict[str, list[list[object]]] = {
    "areas": [
        ["EX01", "样例县", "县", None],
        ["EX0101", "样例镇", "乡镇", "EX01"],
        ["EX010101", "样例村", "村", "EX0101"],
    ],
    "schools": [["EXS01", "样例镇中心小学", "EX0101", "小学"]],
    "classes": [["EXS01", 5, "五年级(1)班"]],
    "staff": [
        ["测试老师", "13800000100", "班主任", "EXS01", None, "五年级(1)班", "五年级(1)班", None],
        ["测试村干部", "13800000101", "村干部", None, "EX010101", None, None, None],
    ],
    "students": [
        [
            "EX2016000001",
            "测试学生",
            "男",
            _BIRTH,
            _ID17 + id_check_char(_ID17),
            "EXS01",
            "五年级(1)班",
            "EX010101",
            "样例县样例镇样例村3组",
            "样例市新区样例路8号",
            "测试家长",
            "父亲",
            "13900000100",
            "留守儿童",
        ]
    ],
}
# Columns Excel would otherwise turn into numbers (losing leading zeros or digits).
TEXT_FIELDS = {
    "code",
    "parent_code",
    "township_code",
    "school_code",
    "area_code",
    "phone",
    "number",
    "national_id",
    "village_code",
    "guardian_phone",
}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
INSTRUCTIONS = [
    "花名册模板 Roster template — 一个都不能少 Not One Less",
    "每张表第一行是列名，不要修改；从第二行起每行一条记录。示例行均为虚构，导入前请删除或替换。",
    "Row 1 holds the column names; one record per row from row 2. Example rows are fictional: replace them.",
    "导入是“全部或全不”：任何一行有错，什么都不会写入，并列出每个问题（表/行/列）。",
    "All or nothing: if any row is wrong nothing is written and every problem is listed as sheet/row/column.",
    "重复导入同一文件不会改变任何数据；修改后再导入会按编码、手机号、学籍号更新已有记录。",
    (
        "Re-importing the same file changes nothing; a corrected file updates records matched by code, "
        "phone or student number."
    ),
    "已在系统中的区域、学校、班级可以不再填写（整张表可省略）。Sheets already imported may be left out.",
    "可选列整列不填时保留系统中的原值；有该列而单元格为空时会清空原值。",
    "An optional column that is absent keeps stored values; present but empty clears them.",
    "级别 Levels: 省 → 市 → 县 → 乡镇 → 村；只有一个县时从县开始填写，县和市的上级编码可留空。",
    "Levels: province → city → county → township → village; a single county starts at the county.",
    "角色 Roles: " + "、".join(f"{zh} ({en})" for zh, en in ROLE_LABELS.values()),
    "重点群体 Key groups: 填写代码或中文名称，如 留守儿童、单亲家庭、残疾儿童 (see docs/roster.md)",
    "命令 Command: notoneless import-roster 花名册.xlsx",
]


def _width(value: object) -> int:
    """Display width: CJK characters take two columns."""
    text = value.isoformat() if isinstance(value, date) else str(value or "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _instructions(ws: Worksheet) -> None:
    for line in INSTRUCTIONS:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    for spec in SHEETS.values():
        ws.append([f"{spec.zh} ({spec.key})"])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append(["列名 Column", "必需 Required", "英文别名 English header", "说明 Meaning"])
        for c in ws[ws.max_row]:
            c.fill = HEADER_FILL
        for col in spec.columns:
            ws.append([col.zh, "必需列 yes" if col.required else "可选 optional", col.aliases[0], col.help])
        ws.append([])
    for letter, width in zip("ABCD", (40, 14, 22, 70), strict=True):
        ws.column_dimensions[letter].width = width
    ws["A1"].alignment = Alignment(wrap_text=False)


def write_template(path: Path) -> None:
    """Writes the template: an instructions sheet (说明) and one sheet per table with an example."""
    wb = Workbook()
    assert isinstance(wb.active, Worksheet)  # a new workbook starts with one worksheet
    _instructions(wb.active)
    wb.active.title = "说明"
    for spec in SHEETS.values():
        ws = wb.create_sheet(spec.zh)
        ws.append([c.zh for c in spec.columns])
        for row in EXAMPLES[spec.key]:
            ws.append(row)
        for i, col in enumerate(spec.columns, start=1):
            letter = get_column_letter(i)
            ws.cell(1, i).font = Font(bold=True)
            ws.cell(1, i).fill = HEADER_FILL
            for cell in ws[letter][1:]:
                if isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
                elif col.field in TEXT_FIELDS:
                    cell.number_format = "@"
            widest = max(_width(v) for v in [col.zh, *(r[i - 1] for r in EXAMPLES[spec.key])])
            ws.column_dimensions[letter].width = min(max(widest + 4, 10), 40)
        ws.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
