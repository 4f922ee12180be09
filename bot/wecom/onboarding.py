"""WeCom's answers outside the forms: an invite code typed by a member binds their account (userid), and
/help lists what their role can do. WeCom has no /start link payload, so the code comes as text."""

from __future__ import annotations

from bot.conversations.apply import InputServices
from bot.conversations.catalogue import help_text, role_label
from bot.conversations.speakers import Speaker, identify_account
from bot.wecom.inbound import CHANNEL
from domain.errors import InviteInvalid
from domain.people.invites import looks_like_code, redeem_invite
from domain.people.language import language_of
from domain.people.roles import Role
from i18n import t


async def speaker_of(services: InputServices, userid: str) -> Speaker:
    async with services.uow() as uow:
        speaker = await identify_account(
            uow, CHANNEL, userid, reported=None, default=services.settings.default_language
        )
        await uow.commit()
    return speaker


async def bound_and_idle(services: InputServices, userid: str, text: str) -> Speaker | None:
    """A bound member with no form open who types an invite code means it as one (Telegram's start link
    binds whether or not the account is bound): their speaker then; None when the text goes to the forms
    (not a code's shape, not bound, or a form open, where a code-shaped text may be a search)."""
    if not looks_like_code(text.strip()):
        return None
    async with services.uow() as uow:
        speaker = await identify_account(
            uow, CHANNEL, userid, reported=None, default=services.settings.default_language
        )
        idle = speaker.account_id is not None and await uow.drafts.get(speaker.account_id) is None
        await uow.commit()
    return speaker if idle else None


async def answer_unbound(
    services: InputServices, speaker: Speaker, userid: str, text: str, *, update_id: int, agent_id: int
) -> str:
    """The reply to a text from a member whose account is not bound: a code binds it (once: a message
    delivered again gets the reply kept with it), anything else says how to bind."""
    code = text.strip()
    if not looks_like_code(code):
        return speaker.text("wecom.unbound")
    return await redeem(services, speaker, userid, code, update_id=update_id, agent_id=agent_id)


async def redeem(
    services: InputServices, speaker: Speaker, userid: str, code: str, *, update_id: int, agent_id: int
) -> str:
    """Binds the member's account with the invite code; the confirmation or the refusal."""
    now = services.clock.now()
    async with services.uow() as uow:
        if not await uow.updates.first(update_id, now, channel=CHANNEL, bot_id=agent_id):
            kept = await uow.updates.reply(update_id, channel=CHANNEL, bot_id=agent_id)
            return str(kept["text"]) if kept else ""
        try:
            staff = await redeem_invite(
                uow, code, channel=CHANNEL, account=userid, conversation=userid,
                reported_language=None, now=now,
            )  # fmt: skip
            # Known now: a choice they made before (Telegram, the dashboard) holds here too.
            language = language_of(staff, reported=None, default=services.settings.default_language)
            text = t(language, "onboarding.bound", name=staff.name, role=role_label(language, staff.role))
        except InviteInvalid as exc:
            # In WeCom's words (a typed code, not a link); the refusal's audit entry is kept.
            text = speaker.text(f"wecom.invite_{exc.reason}")
        await uow.updates.keep_reply(update_id, {"text": text}, channel=CHANNEL, bot_id=agent_id)
        await uow.commit()
    return text


def help_for(speaker: Speaker) -> str:
    """The commands the member's role can use (typed with or without the slash)."""
    if speaker.staff is None:
        return speaker.text("wecom.unbound")
    return help_text(speaker.language, Role(speaker.staff.role))
