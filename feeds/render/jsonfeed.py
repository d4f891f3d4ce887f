"""JSON Feed 1.1 documents (https://www.jsonfeed.org/version/1.1/).

Same items and ids as the RSS and Atom feeds. JSON Feed has no tombstones:
retracted and deleted updates simply leave it, as they leave RSS.

A document is ``json.dumps(doc, ensure_ascii=False, indent=2)`` and a
newline, byte for byte (the tests hold it to that). The feed's own members
are written by ``json.dumps``; each item is written once, by a template
(:func:`json_item`) whose strings the json module escapes, so that the
site-wide feed re-uses it. Why a template: with ``indent``, ``json.dumps``
falls back to its pure-Python encoder (Python 3.11), and
``bench/render_bench.py`` (3,000 updates in feeds of 50) measured

* items one at a time: 86,340/s by the template, 46,270/s by ``json.dumps``
  re-indented for their place (1.9x slower);
* whole documents: 76,040 items/s by the template, 42,996 with ``json.dumps``
  item by item as the build needs them (1.8x slower), 50,175 with one
  ``json.dumps`` of the whole document (1.5x slower, and no items to re-use).

A generic hand-written encoder that wrote the feed's own members was no
faster than ``json.dumps`` on the same dicts (1.06x) and is gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..model import Feed, Person, Update
from ..timeutil import rfc3339
from ._text import edited, jstr

FILENAME = "feed.json"
MEDIA_TYPE = "application/feed+json"
VERSION = "https://jsonfeed.org/version/1.1"


def _author(p: Person) -> dict[str, str]:
    out = {"name": p.name}
    if p.uri:
        out["url"] = p.uri
    return out


def json_item(update: Update) -> str:
    """One item of the ``items`` array, without ``language`` (see :func:`with_language`).

    What ``json.dumps(item, ensure_ascii=False, indent=2)`` writes, indented
    for its place in the array.
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
    # A JSON Feed extension (keys starting with "_"; readers ignore what they do not
    # know): the story an item belongs to, which the site-wide feed mixes.
    zone = getattr(update.published.tzinfo, "key", "UTC")
    parts += [
        ',\n      "_feeds": {\n        "story": ',
        jstr(update.story_title),
        ',\n        "story_url": ',
        jstr(update.url.partition("#")[0]),
        ',\n        "timezone": ',
        jstr(zone),
        "\n      }",
    ]
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
    head = json.dumps(doc, ensure_ascii=False, indent=2)[:-2]  # without the closing "\n}"
    listed = ",\n    ".join(items)
    body = f'  "items": [\n    {listed}\n  ]' if listed else '  "items": []'
    return f"{head},\n{body}\n}}\n".encode()


def json_feed(feed: Feed, self_url: str, items: Sequence[tuple[str, str]]) -> bytes:
    """The document around ``(item, language)`` pairs, each marked if not in the feed's."""
    language = feed.language
    return json_document(feed, self_url, [with_language(i, lang, language) for i, lang in items])


def render_json(feed: Feed, self_url: str) -> bytes:
    return json_feed(feed, self_url, [(json_item(u), u.language) for u in feed.entries])
