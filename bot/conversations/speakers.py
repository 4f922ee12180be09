"""Who wrote, on any channel: the bound staff member of a channel account and the language to answer in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.people.language import language_of, remember_reported
from i18n import t

if TYPE_CHECKING:
    from storage.models import ChannelAccount, Staff
    from storage.uow import UnitOfWork


@dataclass(frozen=True)
class Speaker:
    """A channel account's person (None: not bound, or no longer active) and their reply language."""

    language: str
    staff: Staff | None
    account_id: int | None = None  # the channel account: the key of the person's form drafts

    def text(self, key: str, **params: object) -> str:
        return t(self.language, key, **params)


async def identify_account(
    uow: UnitOfWork, channel: str, account: str, *, reported: str | None, default: str
) -> Speaker:
    """The bound staff member (if any) and their language, in the caller's transaction."""
    found = await uow.directory.account_and_staff(channel, account)
    binding, staff = found if found is not None else (None, None)
    return speaker_of(binding, staff, reported=reported, default=default)


def speaker_of(
    binding: ChannelAccount | None, staff: Staff | None, *, reported: str | None, default: str
) -> Speaker:
    """The account's person if they are active, and their language (domain.people.language: chosen, else
    what this phone reports, else what it reported before, else the default); notes on the (attached)
    rows that they wrote."""
    if staff is not None and not staff.active:
        staff = None
    if binding is not None and binding.unreachable_since is not None:
        # They could not be reached once and now write again: reminders can reach them again.
        binding.unreachable_since = None
    if staff is not None:
        remember_reported(staff, reported)  # reminders sent later follow this phone
    language = language_of(staff, reported=reported, default=default)
    return Speaker(language, staff, binding.id if binding is not None and staff is not None else None)
