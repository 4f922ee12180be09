"""WeCom's flat callback XML (<xml><Field>value</Field>…</xml>) read safely into a dict of strings."""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from bot.wecom.crypto import CallbackRefused

MAX_XML = 64 * 1024  # a callback is a few hundred bytes; anything far larger is not from WeCom


class BadXml(CallbackRefused):
    code = "bad_xml"


def parse_fields(xml: str | bytes) -> dict[str, str]:
    """The root's child elements that hold text, by tag; entities, DTDs and oversize input are refused
    (defusedxml). Nested elements (a multi-choice card's SelectedItems) are left out."""
    if len(xml) > MAX_XML:
        raise BadXml("too large")
    try:
        root = fromstring(xml)
    except (ParseError, DefusedXmlException, ValueError):
        raise BadXml() from None
    if root.tag != "xml":
        raise BadXml("not a callback")
    return {child.tag: (child.text or "").strip() for child in root if len(child) == 0}
