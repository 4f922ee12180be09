"""Long text cut into WeCom text messages: each at most 2 048 bytes of UTF-8 (WeCom silently cuts off
the rest), broken at a line, else after a sentence, else at a space, else between two characters."""

from __future__ import annotations

TEXT_LIMIT = 2048
_SENTENCE_ENDS = "。！？；!?;"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """The parts, in order, none empty; joined with newlines they read as the text did."""
    parts: list[str] = []
    rest = text
    while len(rest.encode()) > limit:
        fits = len(rest.encode()[:limit].decode(errors="ignore"))  # characters, never half of one
        head, cut, skip = rest[:fits], fits, 0
        # A break in the first half would make a short message: only worth it at a line end.
        if (line := head.rfind("\n")) > 0:
            cut, skip = line, 1
        elif (sentence := max(head.rfind(c) for c in _SENTENCE_ENDS)) >= fits // 2:
            cut = sentence + 1
        elif (space := head.rfind(" ")) >= fits // 2:
            cut, skip = space, 1
        if part := rest[:cut].rstrip():
            parts.append(part)
        rest = rest[cut + skip :]
    if rest.strip():
        parts.append(rest.rstrip())
    return parts
