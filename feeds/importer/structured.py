"""Updates that a page describes as data, read before any text heuristic.

Publishers that mark up their live blogs say exactly what each update is and
when it was published:

- schema.org ``LiveBlogPosting`` with ``liveBlogUpdate`` entries, in JSON-LD
  (``<script type="application/ld+json">``, also inside ``@graph``) or in
  microdata (``itemprop="liveBlogUpdate"``);
- microformats2 ``h-entry`` elements (``dt-published``, ``p-name``, ``e-content``).

This is a small reader of just these shapes rather than a general extractor
(extruct would bring rdflib, pyrdfa3, mf2py and w3lib for three shapes that take
a few XPath expressions): what is needed is an update's time, headline, text
and anchor. An entry without a time of day is not used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from ..timeutil import MAX_YEAR, MIN_YEAR


@dataclass(frozen=True)
class Entry:
    when: datetime  # as written: aware, or naive local time
    title: str
    text: str  # Markdown
    anchor: str | None
    source: str  # "json-ld", "microdata", "h-entry"


def read_structured(root: etree._Element) -> list[Entry]:
    """The page's updates as its data describes them, in page order; [] if none."""
    for reader in (_json_ld, _microdata, _h_entries):
        entries = reader(root)
        if entries:
            return entries
    return []


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value.strip()) < 16:
        return None  # a date alone does not time an update
    try:
        found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if MIN_YEAR <= found.year <= MAX_YEAR else None


def _anchor(value: object) -> str | None:
    if isinstance(value, str) and "#" in value:
        return value.rsplit("#", 1)[1] or None
    return None


# --- JSON-LD -------------------------------------------------------------------


def _json_ld(root: etree._Element) -> list[Entry]:
    from .page import md_escape

    entries: list[Entry] = []
    for script in root.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        for blog in _objects(data):
            if not _is_type(blog, "LiveBlogPosting"):
                continue
            updates = blog.get("liveBlogUpdate") or []
            for item in updates if isinstance(updates, list) else [updates]:
                if not isinstance(item, dict):
                    continue
                when = _instant(item.get("datePublished"))
                body = item.get("articleBody") or item.get("text") or ""
                if when is None or not isinstance(body, str):
                    continue
                title = item.get("headline") or item.get("name") or ""
                paragraphs = [md_escape(" ".join(p.split())) for p in re.split(r"\n\s*\n", body)]
                entries.append(
                    Entry(
                        when,
                        " ".join(str(title).split()),
                        "\n\n".join(p for p in paragraphs if p),
                        _anchor(item.get("url") or item.get("@id")),
                        "json-ld",
                    )
                )
    return entries


def _objects(data: Any) -> list[dict[str, Any]]:
    """Every JSON object in ``data``, ``@graph`` included, outermost first."""
    out: list[dict[str, Any]] = []
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, dict):
            out.append(item)
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack[:0] = graph
    return out


def _is_type(item: dict[str, Any], name: str) -> bool:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.rsplit("/", 1)[-1] == name for k in kinds)


# --- microdata and microformats ----------------------------------------------------


def _microdata(root: etree._Element) -> list[Entry]:
    entries = []
    for el in root.xpath(
        "//*[@itemscope][contains(concat(' ', @itemprop, ' '), ' liveBlogUpdate ')]"
    ):
        when = _instant(_prop_value(el, "datePublished"))
        body = _prop(el, "articleBody")
        body = body if body is not None else _prop(el, "text")
        if when is None or body is None:
            continue
        headline = _prop(el, "headline")
        entries.append(
            Entry(
                when,
                " ".join(headline.text_content().split()) if headline is not None else "",
                _markdown(body),
                el.get("id"),
                "microdata",
            )
        )
    return entries


def _prop(el: etree._Element, name: str) -> etree._Element | None:
    found = el.xpath(f".//*[contains(concat(' ', @itemprop, ' '), ' {name} ')]")
    return found[0] if found else None


def _prop_value(el: etree._Element, name: str) -> str:
    prop = _prop(el, name)
    if prop is None:
        return ""
    return str(prop.get("content") or prop.get("datetime") or prop.text_content()).strip()


def _h_entries(root: etree._Element) -> list[Entry]:
    entries = []
    found = root.xpath("//*[contains(concat(' ', normalize-space(@class), ' '), ' h-entry ')]")
    if len(found) < 2:
        return []  # one h-entry is the page itself, not its updates
    for el in found:
        published = _class(el, "dt-published")
        value = ""
        if published is not None:
            value = published.get("datetime") or published.get("value") or ""
            value = value or published.text_content()
        when = _instant(value.strip())
        content = _class(el, "e-content")
        if when is None or content is None:
            continue
        name = _class(el, "p-name")
        title = " ".join(name.text_content().split()) if name is not None else ""
        if name is not None and _inside(name, content):
            title = ""
        entries.append(Entry(when, title, _markdown(content), el.get("id"), "h-entry"))
    return entries


def _class(el: etree._Element, name: str) -> etree._Element | None:
    found = el.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]")
    return found[0] if found else None


def _inside(el: etree._Element, container: etree._Element) -> bool:
    return any(a is container for a in el.iterancestors())


def _markdown(el: etree._Element) -> str:
    """An element's paragraphs as Markdown (each block element a paragraph)."""
    from .page import BLOCK_TAGS, markdown_of

    blocks = [
        b
        for b in el.iter()
        if isinstance(b.tag, str)
        and b.tag in BLOCK_TAGS
        and not any(a.tag in BLOCK_TAGS for a in b.iterancestors() if _inside(a, el) or a is el)
    ]
    if not blocks:
        return markdown_of(el).strip()
    return "\n\n".join(t for t in (markdown_of(b).strip() for b in blocks) if t)
