"""Checks a parsed roster's references against itself and the database, before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from domain.roster.format import (
    AREA_ROLE_LEVEL,
    LEVEL_ZH,
    OFFICER_LEVELS,
    PARENT_LEVEL,
    SCHOOL_ROLES,
    SHEETS,
    RosterData,
    RosterProblem,
)
from storage.models import Area, Code, School, SchoolClass
from storage.uow import UnitOfWork

KEY_GROUP_SCHEME = "key_group"


@dataclass
class Snapshot:
    """Existing rows the import refers to, by the keys the file uses; the writer adds new ones."""

    areas: dict[str, Area] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    classes: dict[tuple[str, str], SchoolClass] = field(default_factory=dict)  # (school code, name)
    key_groups: dict[str, str] = field(default_factory=dict)  # accepted spelling -> code


async def load_snapshot(uow: UnitOfWork) -> Snapshot:
    """Areas, schools, classes and key-group codes: small tables, loaded whole in four queries."""
    s = uow.session
    snap = Snapshot()
    snap.areas = {a.code: a for a in (await s.scalars(select(Area))).all()}
    snap.schools = {x.code: x for x in (await s.scalars(select(School))).all()}
    code_of = {x.id: x.code for x in snap.schools.values()}
    snap.classes = {(code_of[c.school_id], c.name): c for c in (await s.scalars(select(SchoolClass))).all()}
    for code in (
        await s.scalars(select(Code).where(Code.scheme == KEY_GROUP_SCHEME, Code.active.is_(True)))
    ).all():
        # Labels like "家庭经济困难/脱贫户/监测户" are accepted whole or by any of their parts.
        spellings = {
            code.code,
            code.code.lower(),
            code.label_zh,
            code.label_en.lower(),
            *code.label_zh.split("/"),
        }
        for spelling in spellings:
            snap.key_groups[spelling.strip()] = code.code
    return snap


class _Checker:
    def __init__(self, data: RosterData, snap: Snapshot) -> None:
        self.data, self.snap, self.problems = data, snap, list[RosterProblem]()
        self.levels = {code: a.level for code, a in snap.areas.items()}
        # The file wins over the database: a corrected level is what will be stored.
        self.levels.update({a.code: a.level for a in data.areas if a.level})
        self.schools = set(snap.schools) | {s.code for s in data.schools}
        self.classes = set(snap.classes) | {(c.school_code, c.name) for c in data.classes}

    def problem(self, key: str, row: int, field_name: str, message: str) -> None:
        info = self.data.info(key)
        self.problems.append(RosterProblem(info.label, row, info.header(SHEETS[key], field_name), message))

    def area(self, key: str, row: int, field_name: str, code: str | None, level: str) -> None:
        """The code must name an area of `level`, in the file or the database."""
        if code is None:
            return
        found = self.levels.get(code)
        if found is None:
            self.problem(
                key,
                row,
                field_name,
                f"未知区域编码“{code}”：本次导入和系统中都没有 "
                f"(unknown area code: not in this import nor in the database)",
            )
        elif found != level:
            self.problem(
                key,
                row,
                field_name,
                f"“{code}”是{LEVEL_ZH.get(found, found)}，这里应填{LEVEL_ZH[level]} "
                f"(this is a {found}, a {level} is needed here)",
            )

    def school(self, key: str, row: int, code: str | None) -> bool:
        if code is None or code in self.schools:
            return code is not None
        self.problem(
            key,
            row,
            "school_code",
            f"未知学校编码“{code}”：本次导入和系统中都没有 "
            f"(unknown school code: not in this import nor in the database)",
        )
        return False

    def school_class(self, key: str, row: int, field_name: str, school: str, name: str | None) -> None:
        if name is not None and (school, name) not in self.classes:
            self.problem(
                key,
                row,
                field_name,
                f"学校“{school}”没有班级“{name}” (no such class in that school: add it to the 班级 sheet)",
            )

    def run(self) -> list[RosterProblem]:
        d = self.data
        for a in d.areas:
            if a.level in PARENT_LEVEL:
                self.area("areas", a.row, "parent_code", a.parent_code, PARENT_LEVEL[a.level])
        TreeChecker(d, self.snap, self.problem).run()
        for s in d.schools:
            self.area("schools", s.row, "township_code", s.township_code, "township")
        for c in d.classes:
            self.school("classes", c.row, c.school_code)
        for p in d.staff:
            if p.role in SCHOOL_ROLES and self.school("staff", p.row, p.school_code):
                assert p.school_code is not None
                self.school_class("staff", p.row, "homeroom_class", p.school_code, p.homeroom_class)
                for name in p.teaching_classes:
                    self.school_class("staff", p.row, "teaching_classes", p.school_code, name)
            elif p.role in AREA_ROLE_LEVEL:
                self.area("staff", p.row, "area_code", p.area_code, AREA_ROLE_LEVEL[p.role])
        for st in d.students:
            if self.school("students", st.row, st.school_code):
                assert st.school_code is not None
                self.school_class("students", st.row, "class_name", st.school_code, st.class_name)
            self.area("students", st.row, "village_code", st.village_code, "village")
            unknown = [
                f for f in st.flags if f not in self.snap.key_groups and f.lower() not in self.snap.key_groups
            ]
            if unknown:
                self.problem(
                    "students",
                    st.row,
                    "flags",
                    f"未知重点群体“{'、'.join(unknown)}” "
                    f"(unknown key group; use a code or its Chinese label)",
                )
        return self.problems


def reference_problems(data: RosterData, snap: Snapshot) -> list[RosterProblem]:
    """Unknown or wrong-level codes, classes and key groups; every one, not just the first."""
    return _Checker(data, snap).run()


def flag_codes(snap: Snapshot, flags: tuple[str, ...]) -> set[str]:
    """The key-group codes for the spellings in the file (already checked to be known)."""
    return {snap.key_groups.get(f) or snap.key_groups[f.lower()] for f in flags}


class TreeChecker:
    """What an import may not do to the area tree: scope follows it, so a county (or city, province)
    demoted, a loop of parents, or an area or school moved into another county, city or province would
    silently hand children's cases to other officers. Such changes are made by the administrator on
    purpose, not by a file. Placing a county that had no city under one (or a city under a province) is
    allowed: nobody's scope shrinks."""

    def __init__(
        self, data: RosterData, snap: Snapshot, problem: Callable[[str, int, str, str], None]
    ) -> None:
        self.data, self.snap, self.problem = data, snap, problem
        code_of = {a.id: a.code for a in snap.areas.values()}
        self.old_parent = {a.code: code_of.get(a.parent_id) for a in snap.areas.values() if a.parent_id}
        self.old_level = {a.code: a.level for a in snap.areas.values()}
        self.new_parent = dict(self.old_parent) | {a.code: a.parent_code for a in data.areas if a.level}
        self.new_level = dict(self.old_level) | {a.code: a.level for a in data.areas if a.level}
        self.school_township = {x.code: code_of.get(x.area_id) for x in snap.schools.values()}
        self.has_children = set(self.old_parent.values()) | set(self.school_township.values())

    @staticmethod
    def ancestor(
        code: str | None, level: str, parents: dict[str, str | None], levels: dict[str, str]
    ) -> tuple[str | None, bool]:
        """The area of `level` at or above `code`, and whether the walk reached the top of the tree
        (False for an unknown code or a loop, which are reported on their own)."""
        seen: set[str] = set()
        while code is not None and code not in seen:
            if levels.get(code) == level:
                return code, True
            if code not in levels:
                return None, False
            seen.add(code)
            code = parents.get(code)
        return None, code is None

    def run(self) -> None:
        self.levels()
        self.loops()
        self.moves()

    def levels(self) -> None:
        for a in self.data.areas:
            old = self.old_level.get(a.code)
            if old is None or a.level is None or old == a.level:
                continue
            if {old, a.level} & set(OFFICER_LEVELS) or a.code in self.has_children:
                self.problem(
                    "areas",
                    a.row,
                    "level",
                    f"“{a.code}”在系统中是{LEVEL_ZH.get(old, old)}，导入不能改变其级别 "
                    f"(the import would change this {old} into a {a.level}; ask the administrator)",
                )

    def loops(self) -> None:
        for a in self.data.areas:
            code: str | None = a.code
            seen: list[str] = []
            while code is not None and code not in seen and len(seen) <= len(self.new_parent):
                seen.append(code)
                code = self.new_parent.get(code)
            if code == a.code:
                self.problem(
                    "areas",
                    a.row,
                    "parent_code",
                    f"上级编码形成循环：{' → '.join([*seen, a.code])} (the parent codes form a loop)",
                )

    def _moved(self, old_code: str | None, new_code: str | None) -> str | None:
        """Why the change moves scope (the first officer level it crosses), or None."""
        for level in OFFICER_LEVELS:
            before, _ = self.ancestor(old_code, level, self.old_parent, self.old_level)
            after, complete = self.ancestor(new_code, level, self.new_parent, self.new_level)
            if before is None or before == after or (after is None and not complete):
                continue
            if after is None:
                return f"会移出{before} (this would take it out of its {level}'s scope)"
            return f"会从{before}移到{after} (this would move it into another {level}'s scope)"
        return None

    def moves(self) -> None:
        """Reported on the rows whose own parent (or township) changes: what lies under them moves with
        them and is not listed again."""
        for a in self.data.areas:
            changed = a.code in self.old_level and self.old_parent.get(a.code) != self.new_parent.get(a.code)
            if changed and (why := self._moved(a.code, a.code)):
                self.problem("areas", a.row, "parent_code", f"“{a.code}”{why}")
        for x in self.data.schools:
            old = self.school_township.get(x.code)
            if (
                x.code in self.school_township
                and old != x.township_code
                and (why := self._moved(old, x.township_code))
            ):
                self.problem("schools", x.row, "township_code", f"学校“{x.code}”{why}")
