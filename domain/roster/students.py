"""Writes the 学生 sheet in chunks: one query per chunk for existing pupils and one for their flags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from domain.audit import audit
from domain.roster.format import StudentRow
from domain.roster.resolve import flag_codes
from domain.roster.write import CHUNK, RosterWriter, chunks, sync_fields
from storage.models import Student, StudentFlag

# Optional columns: when the file has the column it is the truth (an empty cell clears the value);
# when it lacks the column the stored value is left alone.
OPTIONAL = {
    "national_id": "national_id",
    "village_code": "home_village_id",
    "registered_residence": "registered_residence",
    "current_address": "current_address",
    "guardian_name": "guardian_name",
    "guardian_relation": "guardian_relation",
    "guardian_phone": "guardian_phone",
}


def _values(w: RosterWriter, r: StudentRow) -> dict[str, Any]:
    assert r.school_code is not None and r.class_name is not None
    values: dict[str, Any] = {
        "name": r.name,
        "sex": r.sex,
        "birth_date": r.birth_date,
        "school_id": w.snap.schools[r.school_code].id,
        "class_id": w.snap.classes[(r.school_code, r.class_name)].id,
    }
    for field, column in OPTIONAL.items():
        if w.data.has_column("students", field):
            value = getattr(r, field)
            values[column] = w.snap.areas[value].id if field == "village_code" and value else value
    return values


async def _sync_flags(
    w: RosterWriter,
    students: dict[str, Student],
    rows: list[StudentRow],
    changes: dict[str, list[str]],
    new: set[str],
) -> None:
    """Makes each pupil's key-group flags exactly the ones the file lists."""
    ids = [students[r.number].id for r in rows if r.number not in new]
    have: dict[int, dict[str, StudentFlag]] = {i: {} for i in ids}
    if ids:
        for flag in await w.s.scalars(select(StudentFlag).where(StudentFlag.student_id.in_(ids))):
            have[flag.student_id][flag.flag] = flag
    for r in rows:
        student = students[r.number]
        wanted = flag_codes(w.snap, r.flags)
        current = have.get(student.id, {})
        if set(current) == wanted:
            continue
        gone = [f.id for code, f in current.items() if code not in wanted]
        if gone:
            await w.s.execute(delete(StudentFlag).where(StudentFlag.id.in_(gone)))
        w.s.add_all(StudentFlag(student_id=student.id, flag=code) for code in sorted(wanted - set(current)))
        if r.number not in new:
            changes[r.number].append("flags")


async def write_students(w: RosterWriter) -> None:
    """Creates or updates every pupil of the sheet, matched by 学籍号."""
    rows = w.data.students
    with_flags = w.data.has_column("students", "flags")
    for done, part in enumerate(chunks(rows), start=1):
        numbers = [r.number for r in part]
        students = {
            x.student_number: x
            for x in await w.s.scalars(select(Student).where(Student.student_number.in_(numbers)))
        }
        new = set(numbers) - set(students)
        changes: dict[str, list[str]] = {}
        for r in part:
            values = _values(w, r)
            if r.number in new:
                students[r.number] = Student(student_number=r.number, active=True, **values)
                w.s.add(students[r.number])
            changes[r.number] = sync_fields(students[r.number], values)
        await w.uow.flush()
        if with_flags:
            await _sync_flags(w, students, list(part), changes, new)
        for r in part:
            w.count("students", r.number in new, changes[r.number])
            if changes[r.number] and r.number not in new:
                # Field names only: the log says what kind of data changed, never the values.
                audit(
                    w.uow,
                    w.actor,
                    w.now,
                    "update",
                    "student",
                    students[r.number].id,
                    fields=changes[r.number],
                )
        await w.uow.flush()
        w.report("students", min(done * CHUNK, len(rows)), len(rows))
