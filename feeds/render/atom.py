"""Atom 1.0 (RFC 4287), with RFC 6721 tombstones for retracted and deleted updates."""

from __future__ import annotations

from lxml import etree

from ..model import Feed
from ..timeutil import rfc3339
from ._feedgen import generator
from ._xml import finish

FILENAME = "atom.xml"
MEDIA_TYPE = "application/atom+xml"
ATOM = "http://www.w3.org/2005/Atom"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def render_atom(feed: Feed, self_url: str) -> bytes:
    fg = generator(feed, self_url, MEDIA_TYPE, FILENAME)
    root = etree.fromstring(fg.atom_str(pretty=False, encoding="UTF-8"))
    by_id = {u.id: u for u in feed.entries}
    for entry in root.iterfind(f"{{{ATOM}}}entry"):
        update = by_id[entry.findtext(f"{{{ATOM}}}id")]
        # feedgen 1.0.0 drops every attribute of entry links but href (#135);
        # RFC 4287 4.2.7.2 makes a missing rel mean "alternate", but say it.
        for link in entry.iterfind(f"{{{ATOM}}}link"):
            link.set("rel", "alternate")
            link.set("type", "text/html")
        # Site-wide feeds mix stories; RFC 4287 2 lets xml:lang mark an
        # entry whose language differs from the feed's.
        if update.language != feed.language:
            entry.set(XML_LANG, update.language)
    # RFC 6721: a deleted or retracted entry is announced with its ref and when.
    for tomb in feed.tombstones:
        deleted = etree.SubElement(root, f"{{{TOMBSTONES}}}deleted-entry")
        deleted.set("ref", tomb.id)
        deleted.set("when", rfc3339(tomb.when))
        etree.SubElement(deleted, f"{{{ATOM}}}link", rel="alternate", href=tomb.url)
        if tomb.note:
            etree.SubElement(deleted, f"{{{TOMBSTONES}}}comment").text = tomb.note
    if feed.tombstones:
        etree.cleanup_namespaces(root, top_nsmap={"at": TOMBSTONES})
    return finish(root, feed, root)
