"""parse_mode=HTML as Telegram does it: supported tags only, balanced, entities with UTF-16 offsets."""

from __future__ import annotations

import html
import re
from typing import Any

from sandbox.errors import bad_request
from sandbox.markup import utf16_len

_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))*"
    r"|\s+[A-Za-z-]+)?\s*>"
)
_ATTR_RE = re.compile(r"([A-Za-z-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9A-Fa-f]+);")


def _fail(reason: str) -> Exception:
    return bad_request(f"can't parse entities: {reason}")


def _unescape(chunk: str) -> str:
    # Only &lt; &gt; &amp; &quot; and numeric references are decoded; other "&..." stay as written.
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), chunk)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (plain text, entities) or raise Telegram's "can't parse entities" 400."""
    plain: list[str] = []
    length = 0  # UTF-16 units emitted so far
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    position = 0
    while position < len(source):
        lt = source.find("<", position)
        text = _unescape(source[position:] if lt < 0 else source[position:lt])
        plain.append(text)
        length += utf16_len(text)
        if lt < 0:
            break
        offset = len(source[:lt].encode("utf-8"))
        match = _TAG_RE.match(source, lt)
        if match is None:
            raise _fail(f"Unclosed start tag at byte offset {offset}")
        closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3) or ""
        if name not in _TAGS:
            kind = "end" if closing else "start"
            raise _fail(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if closing:
            if not stack or stack[-1][0] != name:
                expected = f'"</{stack[-1][0]}>"' if stack else "none"
                raise _fail(
                    f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"'
                )
            _, start, extra = stack.pop()
            if length > start:
                entities.append({"type": _TAGS[name], "offset": start, "length": length - start, **extra})
        else:
            stack.append((name, length, _extra(name, attrs)))
        position = match.end()
    if stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _extra(name: str, attrs: str) -> dict[str, Any]:
    values = {
        m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _ATTR_RE.finditer(attrs)
    }
    if name == "a":
        if not values.get("href"):
            return {}
        return {"url": html.unescape(values["href"])}
    if name == "span" and values.get("class") != "tg-spoiler":
        raise _fail('Tag "span" must have class "tg-spoiler"')
    if name == "pre" and values.get("language"):
        return {"language": values["language"]}
    if name == "tg-emoji":
        return {"custom_emoji_id": values.get("emoji-id", "")}
    return {}
