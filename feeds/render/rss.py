"""RSS 2.0 documents, per the RSS Advisory Board's best-practices profile.

With the content, dc and atom namespaces: a non-permalink guid for tag: ids,
RFC 822 dates with four-digit years, full HTML in content:encoded and a
plain-text excerpt in description, atom:link rel="self".

Written with string templates, each item once (:func:`rss_item`), so that
archives and the site-wide feed re-use it. The tests hold the documents to
the feedgen-based reference in ``tests/reference.py`` after XML
canonicalisation; why templates rather than feedgen: see :mod:`feeds.render`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from ..model import Feed, Update
from ..timeutil import rfc822, rfc3339
from ._text import attr, edited, text, xml_bytes

FILENAME = "rss.xml"
MEDIA_TYPE = "application/rss+xml"
GENERATOR = "feeds"
HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005
DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/" '
ATOM = 'xmlns:atom="http://www.w3.org/2005/Atom"'
CONTENT = ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'


def rss_item(update: Update) -> str:
    """One ``<item>``, indented for its place in the channel."""
    content = update.html or f"<p>{html.escape(update.title, quote=False)}</p>"
    parts = [
        "    <item>\n      <title>",
        text(update.title),
        "</title>\n      <link>",
        text(update.url),
        "</link>\n      <description>",
        # Plain text, but RSS readers treat description as HTML: escaped twice.
        text(html.escape(update.summary, quote=False)),
        "</description>\n      <content:encoded>",
        text(content),
        '</content:encoded>\n      <guid isPermaLink="false">',
        text(update.id),
        "</guid>\n",
    ]
    for tag in update.tags:
        parts += ["      <category>", text(tag), "</category>\n"]
    parts += ["      <pubDate>", rfc822(update.published), "</pubDate>\n"]
    if edited(update.published, update.updated):
        # RSS has no element for "edited at"; readers that know Atom read
        # atom:updated on an item, and the rest still key on the unchanged guid.
        parts += ["      <atom:updated>", rfc3339(update.updated), "</atom:updated>\n"]
    for person in update.authors:
        # One credit per person: RSS <author> must be an email and may appear
        # once (W3C validator), so everyone is a dc:creator.
        parts += ["      <dc:creator>", text(person.name), "</dc:creator>\n"]
    parts.append("    </item>\n")
    return "".join(parts)


def links_for(feed: Feed, name: str) -> list[tuple[str, str]]:
    """Feed links with "{name}" replaced by this format's file name."""
    return [(rel, href.replace("{name}", name)) for rel, href in feed.links]


def rss_document(feed: Feed, self_url: str, items: Iterable[str]) -> bytes:
    """The channel of ``feed`` around already serialised items."""
    head = ["<?xml version='1.0' encoding='UTF-8'?>\n"]
    if feed.stylesheet:
        head.append(f'<?xml-stylesheet type="text/css" href="{feed.stylesheet}"?>\n')
    if feed.archive:
        # The archive marker's namespace is declared by tidying the document's
        # namespaces (lxml's cleanup_namespaces in the reference), which also
        # drops the ones no element uses.
        items = list(items)
        dc = DC if any("<dc:creator>" in item for item in items) else ""
        ns = f'{dc}{ATOM}{CONTENT if items else ""} xmlns:fh="{HISTORY}"'
    else:
        ns = DC + ATOM + CONTENT
    head += [
        f'<rss {ns} version="2.0">\n  <channel>\n    <title>',
        text(feed.title),
        "</title>\n    <link>",
        text(feed.page_url),
        "</link>\n    <description>",
        text(feed.subtitle or feed.title),
        '</description>\n    <atom:link href="',
        attr(self_url),
        f'" rel="self" type="{MEDIA_TYPE}"/>\n',
    ]
    # Archive and hub links (RFC 5005 section 3, WebSub 4) as atom:link.
    for rel, href in links_for(feed, FILENAME):
        head.append(f'    <atom:link rel="{attr(rel)}" href="{attr(href)}"/>\n')
    for tag in feed.tags:
        head += ["    <category>", text(tag), "</category>\n"]
    head += [
        "    <docs>http://www.rssboard.org/rss-specification</docs>\n",
        f"    <generator>{GENERATOR}</generator>\n",
        "    <language>",
        text(feed.language),
        "</language>\n    <lastBuildDate>",
        rfc822(feed.updated),
        "</lastBuildDate>\n",
    ]
    if feed.ttl:
        head.append(f"    <ttl>{feed.ttl}</ttl>\n")
    tail = "    <fh:archive/>\n" if feed.archive else ""
    return xml_bytes([*head, *items, tail, "  </channel>\n</rss>\n"], feed.id)


def rss_feed(feed: Feed, self_url: str, items: Sequence[tuple[str, str]]) -> bytes:
    """The document around ``(item, language)`` pairs: RSS items carry no language."""
    return rss_document(feed, self_url, [item for item, _ in items])


def render_rss(feed: Feed, self_url: str) -> bytes:
    return rss_document(feed, self_url, map(rss_item, feed.entries))
