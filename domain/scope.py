"""Least privilege: works out which classes, schools and villages a staff member may see."""

from __future__ import annotations

from domain.roles import Role
from storage.models import Staff
from storage.scope import Scope
from storage.uow import UnitOfWork

__all__ = ["Scope", "scope_for"]


async def _area_subtree(uow: UnitOfWork, root_id: int) -> set[int]:
    areas = await uow.directory.areas()
    children: dict[int | None, list[int]] = {}
    for a in areas:
        children.setdefault(a.parent_id, []).append(a.id)
    found, todo = {root_id}, [root_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


async def scope_for(uow: UnitOfWork, staff: Staff) -> Scope:
    """A teacher sees their classes, a cadre their village, a principal their school,
    a township or county officer everything under their area, an admin everything."""
    role = Role(staff.role)
    if not staff.active:
        return Scope(staff_id=staff.id)
    if role is Role.ADMIN:
        return Scope(staff_id=staff.id, everything=True)
    if role in (Role.CLASS_TEACHER, Role.SUBJECT_TEACHER):
        classes = frozenset(a.class_id for a in await uow.directory.assignments(staff.id))
        return Scope(staff_id=staff.id, class_ids=classes)
    if role is Role.PRINCIPAL:
        return Scope(staff_id=staff.id, school_ids=frozenset({staff.school_id} if staff.school_id else ()))
    if role is Role.VILLAGE_CADRE:
        return Scope(staff_id=staff.id, village_ids=frozenset({staff.area_id} if staff.area_id else ()))
    # Township and county officers: every school and village inside their area.
    if staff.area_id is None:
        return Scope(staff_id=staff.id)
    areas = await _area_subtree(uow, staff.area_id)
    schools = frozenset(s.id for s in await uow.directory.schools() if s.area_id in areas)
    return Scope(staff_id=staff.id, school_ids=schools, village_ids=frozenset(areas),
                 area_ids=frozenset(areas))
