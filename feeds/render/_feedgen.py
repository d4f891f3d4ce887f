"""Shared feedgen set-up for the RSS and Atom renderers.

feedgen 1.0.0 (pinned) does most of the XML work; its known traps are handled
here and in the post-processing of each renderer:

* it stamps ``datetime.now()`` into feed and entry dates left unset, so every
  date is set explicitly from the data (output must be deterministic);
* ``add_entry`` prepends by default, so entries are appended in our order;
* name-only authors vanish from RSS (``<author>`` must be an email), so every
  item gets ``dc:creator`` and the RSS renderer drops ``<author>``;
* the RSS channel ``<link>`` is the last link added, not the first;
* in Atom, entry ``<link>`` keeps only ``href`` (upstream issue #135) -- fixed
  in :mod:`feeds.render.atom`.
"""

from __future__ import annotations

import html

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from ..model import Feed, Person, Update

GENERATOR = "feeds"


def _person(p: Person) -> dict[str, str]:
    out = {"name": p.name}
    if p.email:
        out["email"] = p.email
    if p.uri:
        out["uri"] = p.uri
    return out


def links_for(feed: Feed, name: str) -> list[tuple[str, str]]:
    """Feed links with "{name}" replaced by this format's file name (rss.xml...)."""
    return [(rel, href.replace("{name}", name)) for rel, href in feed.links]


def generator(feed: Feed, self_url: str, self_type: str, file_name: str) -> FeedGenerator:
    fg = FeedGenerator()
    # dc:creator in RSS only; Atom has its own <author>.
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(feed.id)
    fg.title(feed.title)
    fg.description(feed.subtitle or feed.title)  # RSS requires a non-empty description
    fg.link(href=self_url, rel="self", type=self_type)
    if feed.related:
        fg.link(href=feed.related, rel="related", type="text/html")
    for rel, href in links_for(feed, file_name):  # in Atom only: RSS gets them in rss.py
        fg.link(href=href, rel=rel)
    # RSS's channel <link> is the *last* link given (despite feedgen's comment
    # saying "first"); it must be the HTML page, so alternate goes last.
    fg.link(href=feed.page_url, rel="alternate", type="text/html")
    fg.language(feed.language)
    fg.updated(feed.updated)
    fg.lastBuildDate(feed.updated)
    fg.generator(GENERATOR)
    if feed.ttl:
        fg.ttl(feed.ttl)
    for person in feed.authors:
        fg.author(_person(person))
    for tag in feed.tags:
        fg.category(term=tag)
    for update in feed.entries:
        _entry(fg.add_entry(order="append"), update)
    return fg


def _entry(fe: FeedEntry, update: Update) -> None:
    fe.id(update.id)
    fe.guid(update.id, permalink=False)  # a tag: URI is not a URL a browser can open
    fe.title(update.title)
    fe.link(href=update.url, rel="alternate")
    fe.published(update.published)
    fe.updated(update.updated)
    # Atom <summary> is text; RSS <description> is HTML to every reader, so the
    # plain excerpt is escaped for it ("type <img ...>" must stay text). The
    # order matters: summary() fills an empty RSS description, description()
    # then overwrites it, content() then replaces the Atom content it set.
    fe.summary(update.summary)
    fe.description(html.escape(update.summary, quote=False))
    fe.content(update.html or f"<p>{html.escape(update.title, quote=False)}</p>", type="html")
    for person in update.authors:
        # Atom authors only: RSS <author> must be an email and may appear once
        # (W3C validator), so RSS credits everyone with dc:creator instead.
        fe.author(_person(person))
        fe.dc.dc_creator(person.name, replace=False)
    for tag in update.tags:
        fe.category(term=tag)
