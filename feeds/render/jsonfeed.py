"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).

Same items and ids as the RSS and Atom feeds. JSON Feed has no tombstones:
retracted and deleted updates simply leave it, as they leave RSS.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from ..model import Feed, Person
from ..timeutil import rfc3339

MEDIA_TYPE = "application/feed+json"
VERSION = "https://jsonfeed.org/version/1.1"


def _author(p: Person) -> dict[str, str]:
    out = {"name": p.name}
    if p.uri:
        out["url"] = p.uri
    return out


def render_json(feed: Feed, self_url: str) -> bytes:
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
    items = []
    for u in feed.entries:
        item: dict[str, Any] = {
            "id": u.id,
            "url": u.url,
            "title": u.title,
            "content_html": u.html,
            "summary": u.summary,
            "date_published": rfc3339(u.published),
        }
        if u.updated.astimezone(UTC) != u.published.astimezone(UTC):  # not wall-clock
            item["date_modified"] = rfc3339(u.updated)
        item["authors"] = [_author(p) for p in u.authors]
        if u.tags:
            item["tags"] = list(u.tags)
        if u.language != feed.language:
            item["language"] = u.language
        items.append(item)
    doc["items"] = items
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode()
