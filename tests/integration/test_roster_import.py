"""Roster import against the database (SQLite and PostgreSQL): all or nothing, idempotent, updates."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.audit import Actor
from domain.clock import FixedClock
from domain.roster.importer import RosterInvalid, import_roster, write_template
from storage.models import (
    Area,
    AuditEntry,
    School,
    SchoolClass,
    Staff,
    Student,
    StudentFlag,
    TeachingAssignment,
)
from storage.uow import UnitOfWorkFactory
from tests.fixtures.roster import fake_id, good_sheets, write_csv, write_xlsx

ACTOR = Actor.system("cli")
TABLES = (Area, School, SchoolClass, Staff, TeachingAssignment, Student, StudentFlag, AuditEntry)
ROOT = Path(__file__).resolve().parents[2]


async def _counts(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    async with uow_factory() as uow:
        return {
            t.__tablename__: int(await uow.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }


async def _import(uow_factory: UnitOfWorkFactory, clock: FixedClock, *paths: Path, **kw: object):
    return await import_roster(uow_factory, list(paths), now=clock.now(), actor=ACTOR, **kw)  # type: ignore[arg-type]


async def test_good_workbook_imports_everything(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    calls: list[tuple[str, int, int]] = []
    summary = await _import(
        uow_factory,
        clock,
        write_xlsx(tmp_path / "r.xlsx", good_sheets()),
        progress=lambda *a: calls.append(a),
    )
    assert summary.created == {"areas": 4, "schools": 2, "classes": 3, "staff": 7, "students": 5}
    assert not any(summary.updated.values()) and not any(summary.unchanged.values())
    assert ("学生", 5, 5) in calls
    counts = await _counts(uow_factory)
    assert counts["teaching_assignments"] == 4 and counts["student_flags"] == 4
    async with uow_factory() as uow:
        s = await uow.students.by_number("T0002")
        assert s is not None and s.birth_date == date(2015, 7, 15) and s.sex == "F"
        assert await uow.students.flags(s.id) == ["low_income", "single_parent"]
        t5 = await uow.students.by_number("T0005")
        assert t5 is not None
        assert await uow.students.flags(t5.id) == ["low_income"]
        teacher = await uow.directory.staff_by_phone("13800000002")
        assert teacher is not None and teacher.role == "class_teacher"
        [a] = await uow.directory.assignments(teacher.id)
        assert a.is_class_teacher
        township = await uow.directory.area_by_code("TT")
        county = await uow.directory.area_by_code("TC")
        assert township is not None and county is not None and township.parent_id == county.id
        [entry] = await uow.audit.entries("import")
        assert entry.entity == "roster" and entry.detail["created"]["students"] == 5
        assert "测试" not in str(entry.detail)  # counts only, no names


async def test_bad_file_writes_nothing_and_lists_every_problem(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    sheets = good_sheets()
    sheets["区域"][4][3] = "TV1"  # village's parent is a village
    sheets["学校"][2][2] = "NOPE"  # unknown township
    sheets["教职工"][2][2] = "校工"  # unknown role
    sheets["教职工"][3][1] = "13800000001"  # duplicate phone
    students = sheets["学生"]
    national_id = str(students[1][4])
    students[1][4] = national_id[:-1] + ("0" if national_id[-1] != "0" else "1")  # bad checksum
    students[2][3] = "2015-02-30"  # impossible date
    students[3][0] = "T0001"  # duplicate student number
    students[3][2] = "未知"  # bad sex
    students[4][6] = "九年级(9)班"  # unknown class
    students[5][11] = "外星人"  # unknown key group
    students[5][3] = date(2030, 1, 1)  # future
    before = await _counts(uow_factory)
    with pytest.raises(RosterInvalid) as exc:
        await _import(uow_factory, clock, write_xlsx(tmp_path / "bad.xlsx", sheets))
    assert await _counts(uow_factory) == before
    text = [str(p) for p in exc.value.problems]
    expected = [
        "区域/5/上级编码",
        "学校/3/所属乡镇编码",
        "教职工/3/角色",
        "教职工/4/手机号",
        "学生/2/身份证号",
        "学生/3/出生日期",
        "学生/4/学籍号",
        "学生/4/性别",
        "学生/5/班级",
        "学生/6/重点群体",
        "学生/6/出生日期",
    ]
    for location in expected:
        assert any(t.startswith(location + ":") for t in text), (location, text)
    assert len(text) == len(expected), text


async def test_reimport_changes_nothing(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", good_sheets())
    await _import(uow_factory, clock, path)
    before = await _counts(uow_factory)
    summary = await _import(uow_factory, clock, path)
    assert not any(summary.created.values()) and not any(summary.updated.values())
    assert summary.unchanged == {"areas": 4, "schools": 2, "classes": 3, "staff": 7, "students": 5}
    after = await _counts(uow_factory)
    assert after["audit_log"] == before["audit_log"] + 1  # just the import summary
    async with uow_factory() as uow:
        assert await uow.audit.entries("update") == []


async def test_corrected_file_updates_what_changed(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    sheets = good_sheets()
    await _import(uow_factory, clock, write_xlsx(tmp_path / "r.xlsx", sheets))
    fixed = copy.deepcopy(sheets)
    fixed["学生"][3][6] = "六年级(1)班"  # T0003 moves class
    fixed["学生"][1][11] = None  # T0001 no longer flagged
    fixed["教职工"][3][6] = "六年级(1)班"  # subject teacher now teaches one class
    del fixed["区域"], fixed["学校"]  # already in the database
    summary = await _import(uow_factory, clock, write_xlsx(tmp_path / "fixed.xlsx", fixed))
    assert summary.updated == {"areas": 0, "schools": 0, "classes": 0, "staff": 1, "students": 2}
    assert summary.unchanged["students"] == 3 and summary.unchanged["staff"] == 6
    async with uow_factory() as uow:
        moved = await uow.students.by_number("T0003")
        assert moved is not None and moved.school_id is not None
        target = await uow.directory.class_by_name(moved.school_id, "六年级(1)班")
        assert target is not None
        assert moved.class_id == target.id
        t1 = await uow.students.by_number("T0001")
        assert t1 is not None
        assert await uow.students.flags(t1.id) == []
        subject = await uow.directory.staff_by_phone("13800000003")
        assert subject is not None
        assert [a.class_id for a in await uow.directory.assignments(subject.id)] == [target.id]
        updates = await uow.audit.entries("update")
        assert sorted((e.entity, tuple(e.detail["fields"])) for e in updates) == [
            ("staff", ("classes",)),
            ("student", ("class_id",)),
            ("student", ("flags",)),
        ]


async def test_addresses_are_stored_and_a_file_without_the_columns_keeps_them(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    sheets = good_sheets()
    students = sheets["学生"]
    students[0] += ["户籍地", "现住址"]
    students[1] += ["测试县测试镇测试一村3组", "测试市新区幸福路8号"]
    for row in students[2:]:
        row += [None, None]
    await _import(uow_factory, clock, write_xlsx(tmp_path / "with.xlsx", sheets))
    old_style = good_sheets()  # a roster made before the columns existed
    old_style["学生"][1][9] = "母亲"  # and one real change
    summary = await _import(uow_factory, clock, write_xlsx(tmp_path / "old.xlsx", old_style))
    assert summary.updated["students"] == 1 and summary.unchanged["students"] == 4
    async with uow_factory() as uow:
        t1 = await uow.students.by_number("T0001")
        assert t1 is not None and t1.guardian_relation == "母亲"
        assert (t1.registered_residence, t1.current_address) == (
            "测试县测试镇测试一村3组",
            "测试市新区幸福路8号",
        )
    students[1][9] = "母亲"
    students[1][-1] = None  # the column is there and the cell empty: the family's address is cleared
    await _import(uow_factory, clock, write_xlsx(tmp_path / "cleared.xlsx", sheets))
    async with uow_factory() as uow:
        t1 = await uow.students.by_number("T0001")
        assert t1 is not None and t1.current_address is None
        assert t1.registered_residence == "测试县测试镇测试一村3组"
        updates = [e.detail["fields"] for e in await uow.audit.entries("update") if e.entity == "student"]
    assert updates[-1] == ["current_address"] and "测试" not in str(updates)


async def test_csv_files_in_both_encodings(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    sheets = good_sheets()
    sheets["学生"][0] = [
        "student_number",
        "name",
        "sex",
        "birth_date",
        "national_id",
        "school_code",
        "class",
        "village_code",
        "guardian_name",
        "guardian_relation",
        "guardian_phone",
        "key_groups",
    ]
    paths = [
        write_csv(tmp_path / "区域.csv", sheets["区域"], "gb18030"),
        write_csv(tmp_path / "schools.csv", sheets["学校"], "utf-8"),
        write_csv(tmp_path / "班级.csv", sheets["班级"]),
        write_csv(tmp_path / "教职工.csv", sheets["教职工"], "gb18030"),
        write_csv(tmp_path / "students.csv", sheets["学生"]),
    ]
    summary = await _import(uow_factory, clock, *paths)
    assert summary.created == {"areas": 4, "schools": 2, "classes": 3, "staff": 7, "students": 5}
    async with uow_factory() as uow:
        s = await uow.students.by_number("T0001")
        assert s is not None and s.national_id == fake_id(date(2016, 3, 1), 11) and s.name == "测试学生一"


@pytest.mark.parametrize("template", ["committed", "fresh"])
async def test_template_imports_cleanly(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path, template: str
) -> None:
    path = ROOT / "docs" / "roster-template.xlsx"
    if template == "fresh":
        write_template(path := tmp_path / "t.xlsx")
    summary = await _import(uow_factory, clock, path)
    assert summary.created == {"areas": 3, "schools": 1, "classes": 1, "staff": 2, "students": 1}


async def test_nul_characters_in_cells_are_stripped(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    """Some exporting programs leave NUL in cells; PostgreSQL cannot store it, so it is dropped."""
    sheets = good_sheets()
    pupil = sheets["学生"][1]
    pupil[1], pupil[4], pupil[10] = "测试\x00学生一", f"{pupil[4]}\x00", "1390000\x000001"
    sheets["教职工"][1][0] = "\x00测试老师甲"
    paths = [write_csv(tmp_path / f"{name}.csv", rows) for name, rows in sheets.items()]
    summary = await _import(uow_factory, clock, *paths)
    assert summary.created == {"areas": 4, "schools": 2, "classes": 3, "staff": 7, "students": 5}
    async with uow_factory() as uow:
        s = await uow.students.by_number("T0001")
        assert s is not None and s.name == "测试学生一" and s.national_id == fake_id(date(2016, 3, 1), 11)
        teacher = await uow.directory.staff_by_phone("13800000001")
        assert teacher is not None and teacher.name == "测试老师甲"
