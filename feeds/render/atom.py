"""Atom 1.0 (RFC 4287), with RFC 6721 tombstones for retracted and deleted updates.

Each entry carries its whole text as HTML ``<content>`` and no ``<summary>``:
RFC 4287 needs a summary only beside out-of-line or base64 content, and clients
that prefer plain text (rss2email by default) would otherwise mail the excerpt,
cut mid-sentence, instead of the update.

Written with string templates, each entry once (:func:`atom_entry`), so that
archives and the site-wide feed re-use it. The tests hold the documents to
the feedgen-based reference in ``tests/reference.py`` after XML
canonicalisation; why templates rather than feedgen: see :mod:`feeds.render`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from ..model import Feed, Person, Update
from ..timeutil import rfc3339, whole_minute_offset
from ._text import attr, text, xml_bytes
from .rss import GENERATOR, HISTORY, links_for

FILENAME = "atom.xml"
MEDIA_TYPE = "application/atom+xml"
ATOM = "http://www.w3.org/2005/Atom"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
_ENTRY = "  <entry>\n"


def _person(tag: str, p: Person, indent: str) -> list[str]:
    out = [f"{indent}<{tag}>\n{indent}  <name>", text(p.name), "</name>\n"]
    if p.email:
        out += [f"{indent}  <email>", text(p.email), "</email>\n"]
    if p.uri:
        out += [f"{indent}  <uri>", text(p.uri), "</uri>\n"]
    out.append(f"{indent}</{tag}>\n")
    return out


def atom_entry(update: Update) -> str:
    """One ``<entry>``, without ``xml:lang`` (see :func:`with_language`)."""
    content = update.html or f"<p>{html.escape(update.title, quote=False)}</p>"
    parts = [
        _ENTRY,
        "    <id>",
        text(update.id),
        "</id>\n    <title>",
        text(update.title),
        "</title>\n    <updated>",
        whole_minute_offset(update.updated).isoformat(),
        "</updated>\n",
    ]
    for person in update.authors:
        parts += _person("author", person, "    ")
    parts += [
        '    <content type="html">',
        text(content),
        '</content>\n    <link href="',
        attr(update.url),
        '" rel="alternate" type="text/html"/>\n',
    ]
    for tag in update.tags:
        parts += ['    <category term="', attr(tag), '"/>\n']
    published = whole_minute_offset(update.published).isoformat()
    parts += ["    <published>", published, "</published>\n  </entry>\n"]
    return "".join(parts)


def with_language(entry: str, language: str, feed_language: str) -> str:
    """Mark an entry whose language differs from its feed's (RFC 4287 section 2)."""
    if language == feed_language:
        return entry
    return f'  <entry xml:lang="{attr(language)}">\n' + entry[len(_ENTRY) :]


def atom_document(feed: Feed, self_url: str, entries: Iterable[str]) -> bytes:
    """The feed element of ``feed`` around already serialised entries."""
    head = ["<?xml version='1.0' encoding='UTF-8'?>\n"]
    if feed.stylesheet:
        head.append(f'<?xml-stylesheet type="text/css" href="{feed.stylesheet}"?>\n')
    ns = f'xmlns="{ATOM}"'
    if feed.tombstones:
        ns += f' xmlns:at="{TOMBSTONES}"'
    if feed.archive:
        ns += f' xmlns:fh="{HISTORY}"'
    head += [
        f'<feed {ns} xml:lang="',
        attr(feed.language),
        '">\n  <id>',
        text(feed.id),
        "</id>\n  <title>",
        text(feed.title),
        "</title>\n  <updated>",
        whole_minute_offset(feed.updated).isoformat(),
        "</updated>\n",
    ]
    for person in feed.authors:
        head += _person("author", person, "  ")
    head += ['  <link href="', attr(self_url), f'" rel="self" type="{MEDIA_TYPE}"/>\n']
    if feed.related:
        head += ['  <link href="', attr(feed.related), '" rel="related" type="text/html"/>\n']
    for rel, href in links_for(feed, FILENAME):
        head += ['  <link href="', attr(href), '" rel="', attr(rel), '"/>\n']
    head += ['  <link href="', attr(feed.page_url), '" rel="alternate" type="text/html"/>\n']
    for tag in feed.tags:
        head += ['  <category term="', attr(tag), '"/>\n']
    head += [
        f"  <generator>{GENERATOR}</generator>\n  <subtitle>",
        text(feed.subtitle or feed.title),
        "</subtitle>\n",
    ]
    tail = []
    # RFC 6721: a deleted or retracted entry is announced with its ref and when.
    for tomb in feed.tombstones:
        tail += [
            '  <at:deleted-entry ref="',
            attr(tomb.id),
            '" when="',
            rfc3339(tomb.when),
            '">\n    <link rel="alternate" href="',
            attr(tomb.url),
            '"/>\n',
        ]
        if tomb.note:
            tail += ["    <at:comment>", text(tomb.note), "</at:comment>\n"]
        tail.append("  </at:deleted-entry>\n")
    if feed.archive:
        tail.append("  <fh:archive/>\n")
    return xml_bytes([*head, *entries, *tail, "</feed>\n"], feed.id)


def atom_feed(feed: Feed, self_url: str, entries: Sequence[tuple[str, str]]) -> bytes:
    """The document around ``(entry, language)`` pairs, each marked if not in the feed's."""
    language = feed.language
    return atom_document(feed, self_url, [with_language(e, lang, language) for e, lang in entries])


def render_atom(feed: Feed, self_url: str) -> bytes:
    return atom_feed(feed, self_url, [(atom_entry(u), u.language) for u in feed.entries])
