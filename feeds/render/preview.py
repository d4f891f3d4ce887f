"""What a browser shows for a feed: an HTML page rendered at build time (``feed.html``).

A person who clicks a feed link should see what the feed is and how to follow
it, not raw XML. The XSLT view browsers used to apply is being removed from
Chromium, so instead every folder with feeds gets ``feed.html``: a subscribe
box with the feed addresses, then the items as a reader will get them, each with
its local time and its zone's abbreviation, and in the site-wide feed the
story it belongs to. ``feeds serve`` (and the nginx configuration in deploy/)
answers a browser's request for a feed with this page (``Vary: Accept``);
feed readers get the feed. On a static host without content negotiation, the
feeds themselves carry a CSS stylesheet (``feed.css``) that browsers apply
without XSLT.

The site-wide items come from the JSON Feed items the build already made (the
site folder is rendered from cached items, not from the stories): JSON Feed
items carry the story's name and zone in a ``_feeds`` extension object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..model import Update
from .formats import FORMATS
from .html import _date, _e, _zone_label

FILENAME = "feed.html"


@dataclass(frozen=True)
class PreviewItem:
    title: str
    url: str
    html: str
    published: datetime  # in the story's zone
    modified: datetime | None
    story: str  # the story's name, shown in the site-wide preview
    story_url: str


def item_of(update: Update) -> PreviewItem:
    modified = update.updated if update.updated != update.published else None
    return PreviewItem(
        update.title,
        update.url,
        update.html,
        update.published,
        modified,
        update.story_title,
        update.url.partition("#")[0],
    )


def item_of_json(text: str) -> PreviewItem:
    """A site-wide item from its JSON Feed serialisation (see :func:`jsonfeed.json_item`)."""
    data: dict[str, Any] = json.loads(text)
    ext = data.get("_feeds", {})
    zone = ZoneInfo(ext.get("timezone") or "UTC")
    published = datetime.fromisoformat(data["date_published"]).astimezone(zone)
    modified = data.get("date_modified")
    return PreviewItem(
        data["title"],
        data["url"],
        data.get("content_html", ""),
        published,
        datetime.fromisoformat(modified).astimezone(zone) if modified else None,
        ext.get("story", ""),
        ext.get("story_url", ""),
    )


def _when(t: datetime) -> str:
    return f"{t:%H:%M} {_zone_label(t)}, {_date(t)}"


def render_preview(
    *,
    title: str,
    folder_url: str,
    page_url: str,
    language: str,
    css: str,
    items: Iterable[PreviewItem],
    site_wide: bool,
) -> bytes:
    """The page for a folder's feeds (``folder_url`` + rss.xml, atom.xml, feed.json)."""
    addresses = "\n".join(
        f'<li><a href="{_e(f.file_name)}">{_e(f.label)}</a>: '
        f"<code>{_e(folder_url + f.file_name)}</code></li>"
        for f in FORMATS
    )
    lines = [
        "<!doctype html>",
        f'<html lang="{_e(language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}: feed</title>",
        f'<link rel="stylesheet" href="{_e(css)}">',
        '<meta name="robots" content="noindex">',
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(title)}</h1>",
        '<section class="subscribe">',
        "<p><strong>This is a news feed.</strong> Copy one of these addresses into your feed "
        "reader to get every update as it is published:</p>",
        f'<ul class="addresses">\n{addresses}\n</ul>',
        f'<p>Or read it on <a href="{_e(page_url)}">the page</a>.</p>',
        "</section>",
        "</header>",
        "<main>",
        '<ol class="updates preview" reversed>',
    ]
    for item in items:
        lines.append('<li class="update">')
        meta = f'<time datetime="{item.published.isoformat()}">{_e(_when(item.published))}</time>'
        if site_wide and item.story:
            meta += f' · <a href="{_e(item.story_url)}">{_e(item.story)}</a>'
        if item.modified is not None:
            meta += f' · updated <time datetime="{item.modified.isoformat()}">'
            meta += f"{_e(_when(item.modified))}</time>"
        lines += [
            f'<p class="when">{meta}</p>',
            f'<h2><a href="{_e(item.url)}">{_e(item.title)}</a></h2>',
        ]
        if item.html:
            lines.append(f'<div class="body">\n{item.html}\n</div>')
        lines.append("</li>")
    lines += ["</ol>", "</main>", "</body>", "</html>", ""]
    return "\n".join(lines).encode()
