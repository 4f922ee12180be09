"""Least privilege: works out which classes, schools and villages a staff member may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.people.roles import Role
from storage.models import Area, School, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork

__all__ = ["AreaTree", "Scope", "area_tree", "scope_for"]


@dataclass(frozen=True)
class AreaTree:
    """The area hierarchy and where the schools are: what an officer's scope is computed from. Load it
    once (`area_tree`) to work out the scopes of many officers."""

    children: dict[int | None, list[int]]
    schools_by_area: dict[int, list[int]]

    @classmethod
    def of(cls, areas: Sequence[Area], schools: Sequence[School]) -> AreaTree:
        children: dict[int | None, list[int]] = {}
        for a in areas:
            children.setdefault(a.parent_id, []).append(a.id)
        by_area: dict[int, list[int]] = {}
        for s in schools:
            by_area.setdefault(s.area_id, []).append(s.id)
        return cls(children, by_area)

    def subtree(self, root_id: int) -> set[int]:
        found, todo = {root_id}, [root_id]
        while todo:
            for child in self.children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def scope_under(self, staff_id: int, root_id: int) -> Scope:
        """Every school and village inside the area."""
        areas = self.subtree(root_id)
        schools = frozenset(s for a in areas for s in self.schools_by_area.get(a, ()))
        return Scope(
            staff_id=staff_id, school_ids=schools, village_ids=frozenset(areas), area_ids=frozenset(areas)
        )


async def area_tree(uow: UnitOfWork) -> AreaTree:
    return AreaTree.of(await uow.directory.areas(), await uow.directory.schools())


async def scope_for(
    uow: UnitOfWork, staff: Staff, tree: AreaTree | None = None, classes: frozenset[int] | None = None
) -> Scope:
    """A teacher sees their classes (`classes` when the caller read them already), a cadre their village,
    a principal their school, a township or county officer everything under their area, an admin
    everything."""
    role = Role(staff.role)
    if not staff.active:
        return Scope(staff_id=staff.id)
    if role is Role.ADMIN:
        return Scope(staff_id=staff.id, everything=True)
    if role in (Role.CLASS_TEACHER, Role.SUBJECT_TEACHER):
        if classes is None:
            classes = frozenset(a.class_id for a in await uow.directory.assignments(staff.id))
        return Scope(staff_id=staff.id, class_ids=classes)
    if role is Role.PRINCIPAL:
        return Scope(staff_id=staff.id, school_ids=frozenset({staff.school_id} if staff.school_id else ()))
    if role is Role.VILLAGE_CADRE:
        return Scope(staff_id=staff.id, village_ids=frozenset({staff.area_id} if staff.area_id else ()))
    # Township and county officers: every school and village inside their area.
    if staff.area_id is None:
        return Scope(staff_id=staff.id)
    return (tree or await area_tree(uow)).scope_under(staff.id, staff.area_id)
