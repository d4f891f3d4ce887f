"""RSS 2.0 (with the content, dc and atom namespaces), per the RSS Advisory
Board's best-practices profile: a non-permalink guid for tag: ids, RFC 822
dates with four-digit years, full HTML in content:encoded and a plain-text
excerpt in description, atom:link rel="self"."""

from __future__ import annotations

from datetime import UTC

from lxml import etree

from ..model import Feed
from ..timeutil import rfc3339
from ._feedgen import generator, links_for
from ._xml import finish

FILENAME = "rss.xml"
MEDIA_TYPE = "application/rss+xml"
ATOM_UPDATED = "{http://www.w3.org/2005/Atom}updated"
ATOM_LINK = "{http://www.w3.org/2005/Atom}link"


def render_rss(feed: Feed, self_url: str) -> bytes:
    fg = generator(feed, self_url, MEDIA_TYPE, FILENAME)
    root = etree.fromstring(fg.rss_str(pretty=False, encoding="UTF-8"))
    edited = {
        u.id: u.updated
        for u in feed.entries
        if u.updated.astimezone(UTC) != u.published.astimezone(UTC)
    }
    for item in root.iter("item"):
        # One credit per person, as dc:creator (see _feedgen).
        for author in item.findall("author"):
            item.remove(author)
        # RSS has no element for "edited at"; readers that know Atom read
        # atom:updated on an item (the namespace is already declared for the
        # self link), and the rest still key on the unchanged guid.
        when = edited.get(item.findtext("guid") or "")
        if when is not None:
            pub_date = item.find("pubDate")
            assert pub_date is not None
            stamp = etree.Element(ATOM_UPDATED)
            stamp.text = rfc3339(when)
            pub_date.addnext(stamp)
    channel = root.find("channel")
    assert channel is not None
    # feedgen keeps only the self link in RSS; archive and hub links are
    # atom:link elements in the channel (RFC 5005 section 3, WebSub 4).
    self_link = channel.find(ATOM_LINK)
    assert self_link is not None
    for rel, href in reversed(links_for(feed, FILENAME)):
        self_link.addnext(etree.Element(ATOM_LINK, rel=rel, href=href))
    return finish(root, feed, channel)
