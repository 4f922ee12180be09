"""A saved run as a proposal again, so its workbook is written by the same writer as the CLI's
(domain.crosscheck.proposal.write_proposal): each saved child becomes an Entry whose list rows carry
what was saved."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from domain.crosscheck.buckets import AgeRule, Verdict
from domain.crosscheck.files import ChildRow
from domain.crosscheck.match import Person
from domain.crosscheck.proposal import Change, Entry, Proposal
from storage.crosscheck_queries import RosterPupil


def entry_of(child: Mapping[str, Any]) -> Entry:
    """The entry of one crosscheck_children row (a mapping of its columns)."""
    detail = child["detail"] or {}
    person = Person(method=child["method"] or "", conflicts=list(detail.get("conflicts", [])))
    who = {
        "name": child["name"] or None,
        "national_id": child["national_id"],
        "birth_date": child["birth_date"],
    }
    for source, row in detail.get("sources", []):
        if source == "population":
            person.population.append(
                ChildRow(
                    source,
                    row,
                    **who,
                    registered_address=child["registered_address"],
                    current_address=child["current_address"],
                )
            )
        elif source == "registry":
            person.registry.append(
                ChildRow(
                    source,
                    row,
                    **who,
                    number=child["student_number"],
                    school=child["school_label"],
                    status=child["record_status"],
                )
            )
        elif source == "poverty":
            person.poverty_rows.append(ChildRow(source, row, **who))
        elif source == "disabled":
            person.disabled = ChildRow(source, row, **who, disability_type=child["disability"])
    for number in detail.get("roster", []):
        person.pupils.append(
            RosterPupil(
                child["student_id"] or 0,
                number,
                child["name"],
                child["birth_date"] or date.min,
                child["national_id"],
                "",
                child["school_label"] or "",
                child["bucket"] == "absent",
            )
        )
    person.candidates = [
        ChildRow("registry", 0, name, None, None, school=school, number=number)
        for name, school, number in detail.get("candidates", [])
    ]
    verdict = Verdict(child["bucket"], child["reason"], dict(child["params"] or {}))
    return Entry(child["key"], verdict, person)


def proposal_of(children: Iterable[Mapping[str, Any]], cutoff: date) -> Proposal:
    return Proposal([entry_of(c) for c in children], AgeRule(cutoff=cutoff))


def changes_of(
    proposal: Proposal,
    changes: Mapping[str, str],
    before: Mapping[str, str],
    gone: Iterable[Mapping[str, Any]],
) -> list[Change]:
    """The workbook's change sheet: new and changed children (key → change, key → previous bucket), then
    the gone ones (rows of the previous run)."""
    found = []
    for entry in proposal.entries:
        kind = changes.get(entry.key, "same")
        if kind in ("new", "changed"):
            first = entry.person.first()
            found.append(
                Change(
                    entry.key,
                    kind,
                    before.get(entry.key, ""),
                    entry.verdict.bucket,
                    (first.name if first else None) or "",
                    min(entry.person.national_ids(), default=""),
                )
            )
    found += [Change(g["key"], "gone", g["bucket"], "", g["name"], g["national_id"] or "") for g in gone]
    return found
