"""Structural checks of RSS 2.0 and Atom 1.0 documents, written from the specs.

Each assertion names the rule it enforces. Used by the tests on every file a
build writes.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
A = f"{{{ATOM}}}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
RFC822 = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)


def _one(parent: etree._Element, tag: str, rule: str) -> etree._Element:
    found = parent.findall(tag)
    assert len(found) == 1, f"{rule}: expected exactly one {tag}, found {len(found)}"
    return found[0]


def _date(el: etree._Element, rule: str) -> datetime:
    text = el.text or ""
    assert RFC3339.match(text), f"{rule}: {text!r} is not an RFC 3339 date-time"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _links(parent: etree._Element, rule: str) -> list[etree._Element]:
    links = parent.findall(A + "link")
    seen = set()
    for link in links:
        assert link.get("href"), f"{rule}: atom:link needs href (RFC 4287 4.2.7.1)"
        key = (link.get("rel", "alternate"), link.get("type"), link.get("hreflang"))
        if key[0] == "alternate":
            # RFC 4287 4.1.1/4.1.2: at most one alternate link per type+hreflang.
            assert key not in seen, f"{rule}: duplicate alternate link {key}"
            seen.add(key)
    return links


def check_atom(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert root.tag == A + "feed", "RFC 4287 4.1.1: the root is atom:feed"
    _one(root, A + "id", "RFC 4287 4.1.1 atom:feed")
    _one(root, A + "title", "RFC 4287 4.1.1 atom:feed")
    updated = _date(_one(root, A + "updated", "RFC 4287 4.1.1 atom:feed"), "RFC 4287 3.3")
    feed_has_author = bool(root.findall(A + "author"))
    links = _links(root, "RFC 4287 4.1.1")
    assert any(link.get("rel") == "self" for link in links), "RFC 4287 4.1.1: SHOULD have rel=self"
    for entry in root.iterfind(A + "entry"):
        rule = "RFC 4287 4.1.2 atom:entry"
        entry_id = _one(entry, A + "id", rule).text or ""
        assert re.match(r"^[a-z][a-z0-9+.-]*:", entry_id), (
            f"RFC 4287 4.2.6: {entry_id!r} not an IRI"
        )
        assert (_one(entry, A + "title", rule).text or "").strip(), f"{rule}: empty title"
        entry_updated = _date(_one(entry, A + "updated", rule), "RFC 4287 3.3")
        assert entry_updated <= updated, "feed <updated> must not be older than its entries"
        published = entry.findall(A + "published")
        assert len(published) <= 1, f"{rule}: at most one published"
        if published:
            assert _date(published[0], "RFC 4287 3.3") <= entry_updated
        assert feed_has_author or entry.findall(A + "author"), f"{rule}: needs an author"
        for author in entry.findall(A + "author") + root.findall(A + "author"):
            _one(author, A + "name", "RFC 4287 3.2 person construct")
        contents = entry.findall(A + "content")
        assert len(contents) <= 1, f"{rule}: at most one content"
        entry_links = _links(entry, rule)
        alternates = [lk for lk in entry_links if lk.get("rel", "alternate") == "alternate"]
        assert contents or alternates, f"{rule}: content or rel=alternate link required"
        for content in contents:
            assert content.get("type") in ("text", "html", "xhtml"), "RFC 4287 4.1.3.1"
        for category in entry.findall(A + "category"):
            assert category.get("term"), "RFC 4287 4.2.2.1: category needs term"
    return root


def check_rss(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert root.tag == "rss" and root.get("version") == "2.0", "RSS 2.0: <rss version=2.0>"
    channel = _one(root, "channel", "RSS 2.0")
    for required in ("title", "link", "description"):
        el = _one(channel, required, "RSS 2.0 required channel element")
        assert (el.text or "").strip(), f"RSS 2.0: channel <{required}> is empty"
    self_links = [lk for lk in channel.findall(A + "link") if lk.get("rel") == "self"]
    assert len(self_links) == 1, "RSS profile: one atom:link rel=self"
    for name in ("lastBuildDate", "pubDate"):
        for el in channel.findall(name):
            assert RFC822.match(el.text or ""), f"RSS profile: {name} {el.text!r} not RFC 822"
    guids = set()
    for item in channel.iterfind("item"):
        assert item.findall("title") or item.findall("description"), (
            "RSS 2.0: an item needs a title or a description"
        )
        guid = _one(item, "guid", "RSS profile: every item has a guid")
        assert guid.text not in guids, f"RSS: duplicate guid {guid.text}"
        guids.add(guid.text)
        if not (guid.text or "").startswith(("http://", "https://")):
            assert guid.get("isPermaLink") == "false", "RSS 2.0: a non-URL guid is not a permalink"
        pub = _one(item, "pubDate", "RSS profile: items carry pubDate")
        assert RFC822.match(pub.text or ""), f"RSS profile: pubDate {pub.text!r} not RFC 822"
        assert email.utils.parsedate_to_datetime(pub.text or "").tzinfo is not None
        authors = item.findall("author")
        assert len(authors) <= 1, "W3C validator: one <author> per item"
        for author in authors:
            assert "@" in (author.text or ""), "RSS 2.0: <author> is an email address"
        assert not (authors and item.findall(DC + "creator")), (
            "W3C validator: author and dc:creator say the same thing (DuplicateItemSemantics)"
        )
        for name in ("title", "link", "description", "guid", "pubDate", CONTENT + "encoded"):
            assert len(item.findall(name)) <= 1, f"RSS profile: at most one {name} per item"
    return root
