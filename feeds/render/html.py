"""HTML pages: each story's live page, the site's index, and the OPML list.

The story page is the live blog itself, and the page every feed item links to:
each update is an element whose ``id`` is its anchor. Every piece of user
text is escaped here, and update bodies were sanitised by nh3 in the store;
the JSON-LD is escaped so that no ``</script>`` can close its element. No
JavaScript is needed or shipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from ..model import Person, Site, Story, Update
from ..text import plain_text
from ..timeutil import DAY_NAMES, MONTH_NAMES, format_offset, rfc822, rfc3339
from ..zones import abbreviation
from .formats import FORMATS

DAYS, MONTHS = DAY_NAMES, MONTH_NAMES
FEED_LINKS = tuple((f.essence, f.label, f.file_name) for f in FORMATS)


@dataclass(frozen=True)
class StoryPage:
    site: Site
    story: Story  # with the updates that are published now, newest first
    updated: datetime
    # Notices of the updates the store says are retracted: each keeps its place
    # in the timeline, so its permalink leads to a note saying so, as newsrooms
    # do, for as long as it is retracted (not only while feeds carry it).
    withdrawn: tuple[Update, ...] = ()


@dataclass(frozen=True)
class StoryLink:
    """What the index shows of a story (and all its digest depends on)."""

    slug: str
    title: str
    status: str
    url: str
    timezone: str
    newest: datetime | None  # its newest published update
    updated: datetime | None

    @classmethod
    def of(cls, story: Story) -> StoryLink:
        newest = story.updates[0].published if story.updates else None
        return cls(
            story.slug, story.title, story.status, story.url, story.timezone, newest, story.updated
        )


def _e(text: str) -> str:
    return escape(text, quote=True)


def _date(local: datetime) -> str:
    """ "Thursday 17 May 2018", whatever the machine's locale."""
    return f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}"


def _zone_label(local: datetime) -> str:
    """ "BST", "IRDT": what readers of the zone call it; "UTC+05:45" if it has no name."""
    name = abbreviation(local)
    if name:
        return name
    offset = local.utcoffset()
    assert offset is not None
    return "UTC" if not offset else f"UTC{format_offset(offset)}"


def _json_ld(data: dict[str, Any]) -> str:
    """One line per member and per update: readable, and the C encoder writes it."""
    lines = [
        f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in data.items()
        if k != "liveBlogUpdate"
    ]
    updates = data.get("liveBlogUpdate")
    if updates is not None:
        items = ",\n".join(json.dumps(u, ensure_ascii=False) for u in updates)
        lines.append(f'"liveBlogUpdate": [\n{items}\n]' if items else '"liveBlogUpdate": []')
    # "<" escaped so that no "</script>" in user text can end the element.
    return ("{\n" + ",\n".join(lines) + "\n}").replace("<", "\\u003c")


def _person_ld(p: Person) -> dict[str, str]:
    out = {"@type": "Person", "name": p.name}
    if p.uri:
        out["url"] = p.uri
    return out


def _head(title: str, description: str, canonical: str, css: str, language: str) -> list[str]:
    return [
        "<!doctype html>",
        f'<html lang="{_e(language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f'<meta name="description" content="{_e(description)}">',
        f'<link rel="canonical" href="{_e(canonical)}">',
        f'<link rel="stylesheet" href="{css}">',
    ]


def _feed_links(title: str, prefix: str = "") -> list[str]:
    return [
        f'<link rel="alternate" type="{kind}" title="{_e(title)} ({label})" href="{prefix}{href}">'
        for kind, label, href in FEED_LINKS
    ]


def _follow(prefix: str = "") -> str:
    links = " · ".join(f'<a href="{prefix}{href}">{label}</a>' for _, label, href in FEED_LINKS)
    return f'<p class="follow">Follow in a feed reader: {links}</p>'


def _clock(local: datetime) -> str:
    """ "02:30" (strftime is slower, and follows the locale for other fields)."""
    return f"{local.hour:02d}:{local.minute:02d}"


def _update(update: Update, tz: ZoneInfo, published: str) -> list[str]:
    """An update's element; ``published`` is its time in RFC 3339, made once per page."""
    local = update.published.astimezone(tz)
    edited = update.updated.astimezone(UTC) != update.published.astimezone(UTC)
    edited = edited and not update.retracted  # a notice says when it was withdrawn
    anchor = _e(update.anchor)
    kind = "update withdrawn" if update.retracted else "update"
    lines = [
        f'<li class="{kind}" id="{anchor}">',
        f'<p class="when"><a href="#{anchor}" title="Permalink">'
        f'<time datetime="{published}">{_clock(local)}</time></a> '
        f'<span class="date">{_date(local)}, {_zone_label(local)}</span></p>',
    ]
    if not update.title_is_derived:
        lines.append(f"<h2>{_e(update.title)}</h2>")
    if update.html:
        lines.append(f'<div class="body">\n{update.html}\n</div>')
    byline = ", ".join(_e(p.name) for p in update.authors)
    footer = [f'<span class="by">{byline}</span>'] if byline else []
    if edited:
        changed = update.updated.astimezone(tz)
        footer.append(
            f'<span class="edited">Updated <time datetime="{rfc3339(update.updated)}">'
            f"{_clock(changed)}, {_date(changed)}</time></span>"
        )
    if footer:
        lines.append(f'<p class="meta">{" · ".join(footer)}</p>')
    lines.append("</li>")
    return lines


def render_story_page(page: StoryPage) -> bytes:
    story, site = page.story, page.site
    tz = ZoneInfo(story.timezone)
    shown = {u.id for u in story.updates}
    timeline = sorted(
        [*story.updates, *(w for w in page.withdrawn if w.id not in shown)],
        key=lambda u: u.sort_key,
        reverse=True,
    )
    updates = tuple(u for u in story.updates if not u.retracted)
    first = min((u.published for u in updates), key=lambda t: t.astimezone(UTC), default=None)
    started = story.created or first
    ld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": story.title,
        "description": story.summary,
        "url": story.url,
        "inLanguage": story.language,
        "dateModified": rfc3339(page.updated),
        "author": [_person_ld(p) for p in story.authors],
        "publisher": {"@type": "Organization", "name": site.title, "url": site.base_url},
    }
    if started:
        ld["datePublished"] = rfc3339(started)
        ld["coverageStartTime"] = rfc3339(started)
    if story.status == "ended" and updates:
        ld["coverageEndTime"] = rfc3339(updates[0].published)
    published = {u.id: rfc3339(u.published) for u in timeline}
    ld["liveBlogUpdate"] = [
        {
            "@type": "BlogPosting",
            "@id": u.id,
            "headline": u.title,
            "url": u.url,
            "datePublished": published[u.id],
            "dateModified": rfc3339(u.updated),
            "articleBody": (u.plain or plain_text(u.html)) or u.title,
            "author": [_person_ld(p) for p in u.authors],
        }
        for u in updates
    ]
    status = "Live" if story.status == "live" else "Ended"
    lines = _head(
        story.title, story.summary or story.title, story.url, "../style.css", story.language
    )
    lines += _feed_links(story.title)
    lines += [
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{_e(story.title)}">',
        f'<meta property="og:description" content="{_e(story.summary or story.title)}">',
        f'<meta property="og:url" content="{_e(story.url)}">',
        f'<meta property="og:site_name" content="{_e(site.title)}">',
        f'<meta property="article:modified_time" content="{rfc3339(page.updated)}">',
    ]
    if started:
        lines.append(f'<meta property="article:published_time" content="{rfc3339(started)}">')
    lines += [
        f'<script type="application/ld+json">\n{_json_ld(ld)}\n</script>',
        "</head>",
        "<body>",
        "<header>",
        f'<p class="site"><a href="../">{_e(site.title)}</a></p>',
        f"<h1>{_e(story.title)}</h1>",
        f'<p class="status {story.status}">{status}</p>',
    ]
    if story.summary:
        lines.append(f'<p class="summary">{_e(story.summary)}</p>')
    lines += [_follow(), "</header>", "<main>"]
    if story.background_html:
        # Folded: on a phone the newest update stays on the first screen.
        lines.append(
            '<details class="background">\n<summary>Background</summary>\n'
            f"{story.background_html}\n</details>"
        )
    if timeline:
        lines.append('<ol class="updates" reversed aria-label="Updates, newest first">')
        for update in timeline:
            lines += _update(update, tz, published[update.id])
        lines.append("</ol>")
    else:
        lines.append('<p class="empty">No updates yet.</p>')
    lines += [
        "</main>",
        f"<footer><p>Times are local to the story ({_e(story.timezone)}). "
        f'Last updated <time datetime="{rfc3339(page.updated)}">'
        f"{_date(page.updated.astimezone(tz))}</time>.</p></footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines).encode()


def story_item(story: StoryLink) -> str:
    """A story's entry on the index page."""
    newest = story.newest
    when = ""
    if newest is not None:
        local = newest.astimezone(ZoneInfo(story.timezone))
        when = (
            f' <span class="date">last update <time datetime="{rfc3339(newest)}">'
            f"{local:%H:%M} {_zone_label(local)}, {_date(local)}</time></span>"
        )
    feeds = " · ".join(
        f'<a href="{story.slug}/{href}">{label}</a>' for _, label, href in FEED_LINKS
    )
    label = "Live" if story.status == "live" else "Ended"
    return (
        f'<li class="{story.status}">'
        f'<a class="title" href="{story.slug}/">{_e(story.title)}</a>'
        f' <span class="status {story.status}">{label}</span>{when}\n'
        f'<br><span class="feeds">{feeds}</span></li>'
    )


def story_outline(story: StoryLink) -> str:
    """A story's feed in the OPML list."""
    return (
        f'    <outline type="rss" text="{_e(story.title)}" title="{_e(story.title)}" '
        f'xmlUrl="{_e(story.url)}atom.xml" htmlUrl="{_e(story.url)}"/>'
    )


def site_page(site: Site, items: list[str]) -> bytes:
    """The index page around the stories' entries (:func:`story_item`), newest first."""
    lines = _head(
        site.title, site.description or site.title, site.base_url, "style.css", site.language
    )
    lines += _feed_links(site.title)
    lines += [
        '<link rel="alternate" type="text/x-opml" title="Every story\'s feed (OPML)" '
        'href="feeds.opml">',
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(site.title)}</h1>",
    ]
    if site.description:
        lines.append(f'<p class="summary">{_e(site.description)}</p>')
    lines += [
        _follow(),
        '<p class="follow">Or every story\'s own feed at once: <a href="feeds.opml">feeds.opml</a> '
        "(one or the other: with both, each update arrives twice)</p>",
        "</header>",
        "<main>",
        '<ul class="stories">',
    ]
    lines += items
    lines += ["</ul>", "</main>", "</body>", "</html>", ""]
    return "\n".join(lines).encode()


def opml(site: Site, updated: datetime, outlines: list[str]) -> bytes:
    """The OPML list of the stories' own feeds (:func:`story_outline`).

    Not the site-wide feed too: it carries the same updates, and readers that
    import a list subscribe to every outline in it (rss2email and newsboat
    did), so each update would arrive twice. The site-wide feed is its own
    subscription, offered beside the list on the index page."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_e(site.title)}</title>",
        f"    <dateModified>{rfc822(updated, gmt=True)}</dateModified>",
        "  </head>",
        "  <body>",
    ]
    lines += outlines
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode()
