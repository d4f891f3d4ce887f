"""What the string renderers share: escaping as lxml and the json module write it.

The renderers write XML and JSON with plain string templates (see
:mod:`feeds.render` for why), so the few rules a serialiser applies are
spelled out here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..model import NOT_XML

_encode = json.JSONEncoder(ensure_ascii=False).encode


def xml_bytes(parts: list[str], feed_id: str) -> bytes:
    """An XML document from its parts, refusing characters XML forbids: the store
    rejects them, and a library caller building a model by hand must not get a feed
    that no parser reads."""
    document = "".join(parts)
    bad = NOT_XML.search(document)
    if bad:
        raise ValueError(
            f"{feed_id}: U+{ord(bad.group()):04X} cannot be written in XML; remove it from "
            "the model's text"
        )
    return document.encode()


def text(value: str) -> str:
    """XML character data, escaped as lxml does (``>`` and CR included)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def attr(value: str) -> str:
    """An XML attribute value in double quotes, escaped as lxml does."""
    value = text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#9;")
    return value


def jstr(value: str) -> str:
    """A JSON string as ``json.dumps(value, ensure_ascii=False)`` writes it."""
    return _encode(value)


def edited(published: datetime, updated: datetime) -> bool:
    """Was the update changed after it was published (not just shown in another zone)?"""
    return updated.astimezone(UTC) != published.astimezone(UTC)
