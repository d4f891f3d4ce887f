"""Which published files a document links to, and whether a publication order ever
exposed a link to a file not there yet.

Links are read as clients read them: href/src attributes of pages, the
links of RSS, Atom and OPML (and the feed's xml-stylesheet), the URLs of JSON
Feed. Only those inside the site (under base_url) count; a folder URL means
its index.html, as static hosting serves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree

XML_LINK_ATTRIBUTES = ("href", "xmlUrl", "htmlUrl", "url")
RSS_LINK_TEXTS = ("link", "comments", "docs")
JSON_LINK_KEYS = ("url", "home_page_url", "feed_url", "next_url", "external_url")


def raw_links(name: str, body: bytes) -> list[str]:
    if name.endswith(".html"):
        root = lxml.html.fromstring(body)
        return [v for el in root.iter() for a in ("href", "src") if (v := el.get(a))]
    if name.endswith(".json"):
        found: list[str] = []
        _json_links(json.loads(body), found)
        return found
    if name.endswith((".xml", ".opml")):
        root = etree.fromstring(body)
        found = []
        for node in root.itersiblings(preceding=True):
            if isinstance(node, etree._ProcessingInstruction) and node.target == "xml-stylesheet":
                found.append(node.get("href") or "")
        for el in root.iter():
            if not isinstance(el.tag, str) or any(
                etree.QName(a).localname == "deleted-entry" for a in el.iterancestors()
            ):
                continue  # RFC 6721: a tombstone's link names what was deleted
            found += [v for a in XML_LINK_ATTRIBUTES if (v := el.get(a))]
            local = etree.QName(el).localname
            if local in RSS_LINK_TEXTS and el.text and not el.get("href"):
                found.append(el.text.strip())
            if local == "guid" and el.get("isPermaLink", "true") == "true" and el.text:
                found.append(el.text.strip())
        return found
    return []


def _json_links(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in JSON_LINK_KEYS and isinstance(item, str):
                found.append(item)
            else:
                _json_links(item, found)
    elif isinstance(value, list):
        for item in value:
            _json_links(item, found)


def links(name: str, body: bytes, base_url: str) -> set[str]:
    """The names of the site's files that the document ``name`` links to."""
    here = base_url + name
    found = set()
    for link in raw_links(name, body):
        url = urldefrag(urljoin(here, link.strip()))[0]
        if not url.startswith(base_url) or "?" in url:
            continue
        target = url[len(base_url) :]
        if target == "" or target.endswith("/"):
            target += "index.html"
        found.add(target)
    return found


def reachable_breaks(
    present: dict[str, bytes], entries: Iterable[str], base_url: str
) -> list[tuple[str, str]]:
    """(document, missing target) for every document a reader can reach by links
    from ``entries`` (those present) whose link leads to a file not present."""
    seen: set[str] = set()
    todo = [e for e in entries if e in present]
    broken = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for target in sorted(links(name, present[name], base_url)):
            if target in present:
                todo.append(target)
            else:
                broken.append((name, target))
    return broken


def order_problems(
    before: dict[str, bytes], events: list[tuple[str, str, bytes]], base_url: str
) -> list[str]:
    """Replay a build's PUTs and DELETEs, in the order the server received them, on what
    was there ``before``; say every moment a link led nowhere.

    Two checks after each request: (1) an uploaded document of a folder that was
    already published links only to files already there (or itself); (2) every
    document a reader can reach from the site's page or from any file already
    published before (whose URL subscribers have) has all its links in place,
    except the files this build removes, which lead nowhere once removed anyway.
    """
    present = dict(before)
    withdrawn = {name for kind, name, _ in events if kind == "DELETE"}  # readers get 404s
    published_folders = {name.rpartition("/")[0] for name in before}
    problems = []
    for number, (kind, name, body) in enumerate(events, 1):
        if kind == "PUT":
            if name.rpartition("/")[0] in published_folders:
                for target in sorted(links(name, body, base_url) - set(present) - {name}):
                    problems.append(f"#{number} PUT {name}: links {target}, not there yet")
            present[name] = body
        else:
            present.pop(name, None)
        entries = ["index.html", *(n for n in present if n in before and n not in withdrawn)]
        for doc, target in reachable_breaks(present, entries, base_url):
            problems.append(f"after #{number} {kind} {name}: {doc} links {target}, missing")
    return problems
