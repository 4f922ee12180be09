"""A neutral Message's catalog text in the recipient's language: the same words on every channel."""

from __future__ import annotations

from domain.messages import Message, Msg
from i18n import t


def text_of(msg: Msg, language: str) -> str:
    """One catalog message, its message-valued parameters translated first."""
    params = {k: text_of(v, language) if isinstance(v, Msg) else v for k, v in msg.params.items()}
    return t(language, msg.key, **params)


def body_of(message: Message, language: str) -> str:
    """The message's lines, one per line (the buttons are the channel's to render)."""
    return "\n".join(text_of(m, language) for m in message.lines)
