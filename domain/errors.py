"""Typed domain errors; handlers and routes map them to catalog messages or HTTP codes."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base of every rule violation the user can be told about."""


class InvalidTransition(DomainError):
    """A case status change the lifecycle does not allow."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"case cannot move from {current} to {target}")
        self.current = current
        self.target = target


class NotInScope(DomainError):
    """The actor may not see or act on this student, case or area."""


class NotFound(DomainError):
    """The referenced record does not exist (or is hidden by scope)."""


class InvalidInput(DomainError):
    """A value failed validation; `code` names the catalog message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class InviteInvalid(DomainError):
    """An invite code is unknown, used or expired; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaseAlreadyOpen(DomainError):
    """A student may have only one open case at a time."""


class AbsenceAlreadyReported(DomainError):
    """This absence (same pupil, same first day) is already on the pupil's open case."""

    def __init__(self, case_number: str, reported_at: datetime) -> None:
        super().__init__(f"absence already recorded as case {case_number}")
        self.case_number = case_number
        self.reported_at = reported_at


class RollCallClosed(DomainError):
    """The term-start roll call is offered on the term's first school days only (domain.reminders.term_start)."""
