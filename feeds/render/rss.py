"""RSS 2.0 (with the content, dc and atom namespaces), per the RSS Advisory
Board's best-practices profile: a non-permalink guid for tag: ids, RFC 822
dates with four-digit years, full HTML in content:encoded and a plain-text
excerpt in description, atom:link rel="self"."""

from __future__ import annotations

from ..model import Feed
from ._feedgen import generator

FILENAME = "rss.xml"
MEDIA_TYPE = "application/rss+xml"


def render_rss(feed: Feed, self_url: str) -> bytes:
    fg = generator(feed, self_url, MEDIA_TYPE)
    out: bytes = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return out
