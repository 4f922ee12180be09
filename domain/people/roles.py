"""Staff roles and what each may see (least privilege, DOMAIN.md §8)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CLASS_TEACHER = "class_teacher"
    SUBJECT_TEACHER = "subject_teacher"
    PRINCIPAL = "principal"
    VILLAGE_CADRE = "village_cadre"
    TOWNSHIP_OFFICER = "township_officer"
    COUNTY_OFFICER = "county_officer"
    CITY_OFFICER = "city_officer"
    PROVINCE_OFFICER = "province_officer"
    ADMIN = "admin"


TEACHER_ROLES = frozenset({Role.CLASS_TEACHER, Role.SUBJECT_TEACHER})
# Coordinators act on cases: decide, take on escalations, approve closings, edit key groups.
COORDINATOR_ROLES = frozenset({Role.PRINCIPAL, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER, Role.ADMIN})
# Above the county (地市一学期一调研, 省级一学年一评估: 003_ee1c82519c64281c.txt) officers review their area:
# they read the dashboard, the overview and the exports, but act on no case and receive no escalation.
SUPERVISOR_ROLES = frozenset({Role.CITY_OFFICER, Role.PROVINCE_OFFICER})
DASHBOARD_ROLES = COORDINATOR_ROLES | SUPERVISOR_ROLES

# Role labels as they appear in the roster template (Chinese) and in English.
ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.CLASS_TEACHER: ("班主任", "class teacher"),
    Role.SUBJECT_TEACHER: ("科任教师", "subject teacher"),
    Role.PRINCIPAL: ("校长", "principal"),
    Role.VILLAGE_CADRE: ("村干部", "village cadre"),
    Role.TOWNSHIP_OFFICER: ("乡镇专干", "township officer"),
    Role.COUNTY_OFFICER: ("县教育局", "county officer"),
    Role.CITY_OFFICER: ("市教育局", "city officer"),
    Role.PROVINCE_OFFICER: ("省教育厅", "province officer"),
    Role.ADMIN: ("管理员", "administrator"),
}


def parse_role(text: str) -> Role | None:
    """Reads a role from its code, Chinese or English label; None when unknown."""
    value = text.strip()
    for role, (zh, en) in ROLE_LABELS.items():
        if value in (role.value, zh, en) or value.lower() == en:
            return role
    return None
