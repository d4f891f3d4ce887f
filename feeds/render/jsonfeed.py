"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).

Same items and ids as the RSS and Atom feeds. JSON Feed has no tombstones:
retracted and deleted updates simply leave it, as they leave RSS.

The document is ``json.dumps(doc, ensure_ascii=False, indent=2)``, written
item by item (:func:`json_item`) so that the site-wide feed re-uses items:
with ``indent`` the standard library falls back to its pure-Python encoder,
which costs more than the rest of the item. :func:`dump` writes the same
text; the tests hold it to ``json.dumps``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..model import Feed, Person, Update
from ..timeutil import rfc3339
from ._text import edited, jstr

FILENAME = "feed.json"
MEDIA_TYPE = "application/feed+json"
VERSION = "https://jsonfeed.org/version/1.1"


def dump(value: Any, level: int = 0) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2)`` at nesting ``level``."""
    if isinstance(value, str):
        return jstr(value)
    inner = "\n" + "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        body = ("," + inner).join(f"{jstr(k)}: {dump(v, level + 1)}" for k, v in value.items())
        return "{" + inner + body + "\n" + "  " * level + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return (
            "["
            + inner
            + ("," + inner).join(dump(v, level + 1) for v in value)
            + "\n"
            + "  " * level
            + "]"
        )
    return jstr(value)


def _author(p: Person) -> dict[str, str]:
    out = {"name": p.name}
    if p.uri:
        out["url"] = p.uri
    return out


def json_item(update: Update) -> str:
    """One item of the ``items`` array, without ``language`` (see :func:`with_language`).

    ``dump(item, 2)`` spelled out: this is once per update, :func:`dump` is
    not fast. The tests hold the two to the same text.
    """
    parts = [
        '{\n      "id": ',
        jstr(update.id),
        ',\n      "url": ',
        jstr(update.url),
        ',\n      "title": ',
        jstr(update.title),
        ',\n      "content_html": ',
        jstr(update.html),
        ',\n      "summary": ',
        jstr(update.summary),
        ',\n      "date_published": "',
        rfc3339(update.published),
        '"',
    ]
    if edited(update.published, update.updated):  # not just another zone
        parts += [',\n      "date_modified": "', rfc3339(update.updated), '"']
    if update.authors:
        authors = ",\n        ".join(
            '{\n          "name": '
            + jstr(p.name)
            + (',\n          "url": ' + jstr(p.uri) if p.uri else "")
            + "\n        }"
            for p in update.authors
        )
        parts += [',\n      "authors": [\n        ', authors, "\n      ]"]
    else:
        parts.append(',\n      "authors": []')
    if update.tags:
        tags = ",\n        ".join(jstr(t) for t in update.tags)
        parts += [',\n      "tags": [\n        ', tags, "\n      ]"]
    parts.append("\n    }")
    return "".join(parts)


def with_language(item: str, language: str, feed_language: str) -> str:
    """Mark an item whose language differs from its feed's; it is the item's last member."""
    if language == feed_language:
        return item
    return f'{item[:-6]},\n      "language": {jstr(language)}\n    }}'


def json_document(feed: Feed, self_url: str, items: Iterable[str]) -> bytes:
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": feed.page_url,
        "feed_url": self_url,
    }
    if feed.subtitle:
        doc["description"] = feed.subtitle
    doc["language"] = feed.language
    doc["authors"] = [_author(p) for p in feed.authors]
    hubs = [{"type": "WebSub", "url": href} for rel, href in feed.links if rel == "hub"]
    if hubs:
        doc["hubs"] = hubs
    head = dump(doc)[:-2]  # without the closing "\n}"
    listed = ",\n    ".join(items)
    body = f'  "items": [\n    {listed}\n  ]' if listed else '  "items": []'
    return f"{head},\n{body}\n}}\n".encode()


def json_feed(feed: Feed, self_url: str, items: Sequence[tuple[str, str]]) -> bytes:
    """The document around ``(item, language)`` pairs, each marked if not in the feed's."""
    language = feed.language
    return json_document(feed, self_url, [with_language(i, lang, language) for i, lang in items])


def render_json(feed: Feed, self_url: str) -> bytes:
    return json_feed(feed, self_url, [(json_item(u), u.language) for u in feed.entries])
