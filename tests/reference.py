"""The reference renderers the tests hold the string renderers to.

feedgen and lxml write RSS and Atom, ``json.dumps`` writes JSON Feed: slow,
but each document is built by a library that knows the format, so it is the
specification of what :mod:`feeds.render` writes with string templates.
``tests/test_renderers.py`` compares the two on generated feeds: the XML after
canonicalisation (C14N 2.0), so that attribute order or where a namespace is
declared may differ but no element, attribute or character may; JSON Feed as
parsed JSON. The golden files pin the exact bytes.

feedgen 1.0.0 (pinned, a test dependency only) does most of the XML work
here; its known traps are handled below:

* it stamps ``datetime.now()`` into feed and entry dates left unset, so every
  date is set explicitly from the data (output must be deterministic);
* ``add_entry`` prepends by default, so entries are appended in our order;
* name-only authors vanish from RSS (``<author>`` must be an email), so every
  item gets ``dc:creator`` and the RSS renderer drops ``<author>``;
* the RSS channel ``<link>`` is the last link added, not the first;
* in Atom, entry ``<link>`` keeps only ``href`` (upstream issue #135) -- fixed
  below.
"""

from __future__ import annotations

import html
import json
from datetime import UTC
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.model import Feed, Person, Update
from feeds.timeutil import rfc3339

GENERATOR = "feeds"
ATOM = "http://www.w3.org/2005/Atom"
ATOM_UPDATED = f"{{{ATOM}}}updated"
ATOM_LINK = f"{{{ATOM}}}link"
HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


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
    for rel, href in links_for(feed, file_name):  # Atom only: RSS's are added below
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
    # No Atom <summary> (the content is the whole text); RSS <description> is
    # HTML to every reader, so the plain excerpt is escaped for it ("type <img
    # ...>" must stay text). description() also sets the Atom content, which
    # content() then replaces.
    fe.description(html.escape(update.summary, quote=False))
    fe.content(update.html or f"<p>{html.escape(update.title, quote=False)}</p>", type="html")
    for person in update.authors:
        # Atom authors only: RSS <author> must be an email and may appear once
        # (W3C validator), so RSS credits everyone with dc:creator instead.
        fe.author(_person(person))
        fe.dc.dc_creator(person.name, replace=False)
    for tag in update.tags:
        fe.category(term=tag)


def reference_rss(feed: Feed, self_url: str) -> bytes:
    fg = generator(feed, self_url, "application/rss+xml", "rss.xml")
    root = etree.fromstring(fg.rss_str(pretty=False, encoding="UTF-8"))
    edited = {
        u.id: u.updated
        for u in feed.entries
        if u.updated.astimezone(UTC) != u.published.astimezone(UTC)
    }
    for item in root.iter("item"):
        # One credit per person, as dc:creator (see _entry).
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
    for rel, href in reversed(links_for(feed, "rss.xml")):
        self_link.addnext(etree.Element(ATOM_LINK, rel=rel, href=href))
    return finish(root, feed, channel)


def reference_atom(feed: Feed, self_url: str) -> bytes:
    fg = generator(feed, self_url, "application/atom+xml", "atom.xml")
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


def finish(root: etree._Element, feed: Feed, parent: etree._Element) -> bytes:
    """Archive marker, stylesheet, indentation, serialisation."""
    if feed.archive:
        # RFC 5005 section 4: an archive document says so with fh:archive.
        etree.SubElement(parent, f"{{{HISTORY}}}archive")
        etree.cleanup_namespaces(root, top_nsmap={"fh": HISTORY})
    etree.indent(root, space="  ")
    if feed.stylesheet:
        # Browsers show the feed through this XSL; feed readers ignore it.
        root.addprevious(
            etree.ProcessingInstruction(
                "xml-stylesheet", f'type="text/css" href="{feed.stylesheet}"'
            )
        )
    out: bytes = etree.tostring(
        root.getroottree(), encoding="UTF-8", xml_declaration=True, pretty_print=True
    )
    return out


def _json_author(p: Person) -> dict[str, str]:
    out = {"name": p.name}
    if p.uri:
        out["url"] = p.uri
    return out


def json_feed_dict(feed: Feed, self_url: str) -> dict[str, Any]:
    """The JSON Feed 1.1 document of ``feed`` as the json module takes it."""
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.page_url,
        "feed_url": self_url,
    }
    if feed.subtitle:
        doc["description"] = feed.subtitle
    doc["language"] = feed.language
    doc["authors"] = [_json_author(p) for p in feed.authors]
    hubs = [{"type": "WebSub", "url": href} for rel, href in feed.links if rel == "hub"]
    if hubs:
        doc["hubs"] = hubs
    items = []
    for u in feed.entries:
        item = json_item_dict(u)
        if u.language != feed.language:
            item["language"] = u.language
        items.append(item)
    doc["items"] = items
    return doc


def json_item_dict(u: Update) -> dict[str, Any]:
    """One item of the ``items`` array, without ``language``."""
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
    item["authors"] = [_json_author(p) for p in u.authors]
    if u.tags:
        item["tags"] = list(u.tags)
    item["_feeds"] = {
        "story": u.story_title,
        "story_url": u.url.partition("#")[0],
        "timezone": getattr(u.published.tzinfo, "key", "UTC"),
    }
    return item


def reference_json(feed: Feed, self_url: str) -> bytes:
    return (
        json.dumps(json_feed_dict(feed, self_url), ensure_ascii=False, indent=2) + "\n"
    ).encode()
