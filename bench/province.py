"""A generated province on PostgreSQL, written with COPY: areas, schools, classes, pupils, cases, events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice

import asyncpg

from domain.casework.lifecycle import DROPOUT_LEDGER, CaseStatus

COUNTIES, TOWNSHIPS, VILLAGES, SCHOOLS, CLASSES = 20, 10, 10, 5, 20  # per parent
START = datetime(2025, 9, 1, tzinfo=UTC)
OTHER = [s.value for s in CaseStatus if s not in DROPOUT_LEDGER]
# The dropout ledger's cases: those in its statuses now, and dropouts who came back or were closed
# since (the ledger keeps them).
LEDGER = [*sorted(s.value for s in DROPOUT_LEDGER), CaseStatus.RETURNED.value, CaseStatus.CLOSED.value]
BATCH = 50_000


def _areas() -> tuple[list[tuple], list[int], list[int]]:  # type: ignore[type-arg]
    rows: list[tuple[int, str, str, str, int | None]]
    rows, townships, villages = [(1, "P", "基准省", "county", None)], [], []
    next_id = 2
    for c in range(COUNTIES):
        county = next_id
        rows.append((county, f"P-C{c}", f"第{c}县", "county", 1))
        next_id += 1
        for t in range(TOWNSHIPS):
            township = next_id
            rows.append((township, f"P-C{c}-T{t}", f"第{c}县第{t}镇", "township", county))
            townships.append(township)
            next_id += 1
            for v in range(VILLAGES):
                rows.append((next_id, f"P-C{c}-T{t}-V{v}", f"第{t}镇第{v}村", "village", township))
                villages.append(next_id)
                next_id += 1
    return rows, townships, villages


def _status(n: int, ledger_rows: int) -> str:
    return LEDGER[n % len(LEDGER)] if n < ledger_rows else OTHER[n % len(OTHER)]


def _batched(rows: Iterator[tuple]) -> Iterator[list[tuple]]:  # type: ignore[type-arg]
    while batch := list(islice(rows, BATCH)):
        yield batch


async def generate(dsn: str, cases: int, ledger_rows: int) -> dict[str, int]:
    """Writes the province; `ledger_rows` of the cases entered the dropout ledger (a third of them have
    returned since, half of those are closed), the others never did."""
    conn = await asyncpg.connect(dsn)
    try:
        areas, townships, villages = _areas()
        await conn.copy_records_to_table(
            "areas", records=areas, columns=["id", "code", "name", "level", "parent_id"]
        )
        schools = [
            (n + 1, f"S{n}", f"第{n}学校", townships[n // SCHOOLS], "nine_year")
            for n in range(len(townships) * SCHOOLS)
        ]
        await conn.copy_records_to_table(
            "schools", records=schools, columns=["id", "code", "name", "area_id", "stage"]
        )
        classes = [
            (n + 1, s[0], 1 + n % 9, f"{n % CLASSES + 1}班")
            for n, s in ((n, schools[n // CLASSES]) for n in range(len(schools) * CLASSES))
        ]
        await conn.copy_records_to_table(
            "classes", records=classes, columns=["id", "school_id", "grade", "name"]
        )
        staff: list[tuple[int, str, str, str, bool, datetime, int | None, int | None]] = [
            (1, "省管理员", "13000000000", "admin", True, START, None, None),  # the first county's officer:
            (2, "县教育局", "13000000001", "county_officer", True, START, 2, None),
        ]  # area 2 is that county
        # Everyone else whose overview the scheduler keeps: the other counties' officers, one officer per
        # township and a principal per school.
        officers = [
            (a[0], "county_officer" if a[3] == "county" else "township_officer")
            for a in areas[1:]
            if a[3] in ("county", "township") and a[0] != 2
        ]
        staff += [
            (3 + n, f"专干{n}", f"131{n:08d}", role, True, START, area, None)
            for n, (area, role) in enumerate(officers)
        ]
        staff += [
            (3 + len(officers) + n, f"校长{n}", f"132{n:08d}", "principal", True, START, None, school[0])
            for n, school in enumerate(schools)
        ]
        await conn.copy_records_to_table(
            "staff",
            records=staff,
            columns=["id", "name", "phone", "role", "active", "created_at", "area_id", "school_id"],
        )

        def pupils() -> Iterator[tuple]:  # type: ignore[type-arg]
            for n in range(cases):
                cls = classes[n % len(classes)]
                yield (
                    n + 1,
                    f"G{n:017d}",
                    f"学生{n}",
                    "MF"[n % 2],
                    date(2013 + n % 6, 1 + n % 12, 1 + n % 28),
                    cls[1],
                    cls[0],
                    villages[n % len(villages)],
                    True,
                )

        def case_rows() -> Iterator[tuple]:  # type: ignore[type-arg]
            for n in range(cases):
                status = _status(n, ledger_rows)
                opened = START + timedelta(minutes=n % 400_000)
                back = (
                    opened + timedelta(days=20)
                    if status in (CaseStatus.RETURNED, CaseStatus.CLOSED)
                    else None
                )
                yield (
                    n + 1,
                    f"P-{n:08d}",
                    n + 1,
                    status,
                    opened,
                    opened + timedelta(days=3),
                    1,
                    opened + timedelta(days=3),
                    opened.date(),
                    back.date() if back else None,
                    back + timedelta(days=30) if back and status == CaseStatus.CLOSED else None,
                )

        def events() -> Iterator[tuple]:  # type: ignore[type-arg]
            for n in range(cases):
                opened = START + timedelta(minutes=n % 400_000)
                mode = {"mode": "phone"} if n % 3 == 0 else {}  # older visits have no mode (a home visit)
                visit = json.dumps(
                    {"outcome": "agreed_to_return", "met": "guardian", "note": "家访记录", **mode}
                )
                # Ledger cases entered the dropout ledger; the others moved straight to their status.
                moved_to = CaseStatus.DROPPED_OUT.value if n < ledger_rows else _status(n, ledger_rows)
                yield (3 * n + 1, n + 1, "opened", opened, opened, None, "absent", "{}")
                yield (
                    3 * n + 2,
                    n + 1,
                    "visit_logged",
                    opened + timedelta(days=2),
                    opened + timedelta(days=2),
                    None,
                    None,
                    visit,
                )
                yield (
                    3 * n + 3,
                    n + 1,
                    "status_changed",
                    opened + timedelta(days=3),
                    opened + timedelta(days=3),
                    "absent",
                    moved_to,
                    "{}",
                )

        for batch in _batched(pupils()):
            await conn.copy_records_to_table(
                "students",
                records=batch,
                columns=[
                    "id",
                    "student_number",
                    "name",
                    "sex",
                    "birth_date",
                    "school_id",
                    "class_id",
                    "home_village_id",
                    "active",
                ],
            )
        for batch in _batched(case_rows()):
            await conn.copy_records_to_table(
                "cases",
                records=batch,
                columns=[
                    "id",
                    "number",
                    "student_id",
                    "status",
                    "opened_at",
                    "updated_at",
                    "version",
                    "visit_due_at",
                    "first_absent_on",
                    "returned_on",
                    "closed_at",
                ],
            )
        for batch in _batched(events()):
            await conn.copy_records_to_table(
                "case_events",
                records=batch,
                columns=[
                    "id",
                    "case_id",
                    "kind",
                    "occurred_at",
                    "recorded_at",
                    "from_status",
                    "to_status",
                    "data",
                ],
            )
        for table in ("areas", "schools", "classes", "staff", "students", "cases", "case_events"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {
        "areas": len(areas),
        "schools": len(schools),
        "classes": len(classes),
        "students": cases,
        "cases": cases,
        "events": 3 * cases,
    }
