"""Key-group flags set on the dashboard (DOMAIN.md §7). Sensitive ones (religion, a parent in prison, a
minor in a criminal case, early marriage) are set only here, by coordinators, never in chat."""

from __future__ import annotations

from datetime import datetime

from domain.audit import Actor, audit
from domain.casework.cases import add_event, case_in_scope
from domain.errors import InvalidInput, NotInScope
from domain.people.roles import COORDINATOR_ROLES, Role
from storage.models import Case, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork


async def set_case_flags(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    case_id: int,
    flags: list[str],
    *,
    now: datetime,
) -> Case:
    """Replaces the pupil's key-group flags; the change (added, removed) goes on the case timeline."""
    if Role(staff.role) not in COORDINATOR_ROLES:
        audit(uow, actor, now, "denied", "case", case_id, flags=True)
        raise NotInScope(f"case {case_id}")
    case = await case_in_scope(uow, scope, actor, case_id, now)
    known = {c.code for c in await uow.codes.scheme("key_group")}
    if unknown := set(flags) - known:
        raise InvalidInput("unknown_flag", flags=sorted(unknown))
    before = set(await uow.students.flags(case.student_id))
    wanted = set(flags)
    if wanted != before:
        await uow.students.set_flags(case.student_id, sorted(wanted))
        add_event(
            uow, case, "flags_set", actor, now, added=sorted(wanted - before), removed=sorted(before - wanted)
        )
        audit(uow, actor, now, "update", "student", case.student_id, flags=len(wanted))
        case.updated_at = now
    return case
