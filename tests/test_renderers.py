"""The string renderers write the documents the reference renderers write.

tests/reference.py (feedgen and lxml for RSS and Atom, json.dumps for JSON
Feed) is the specification; the renderers the build uses are faster
re-implementations. Hypothesis generates feeds with every optional part
(edits, authors with and without email and uri, tags, other languages,
tombstones, archive and hub links, stylesheets, TTLs, text that needs
escaping). RSS and Atom must be the same XML after canonicalisation (C14N
2.0: no element, attribute, text or processing instruction may differ; the
order of attributes and the place of namespace declarations may); JSON Feed
must parse to the same value. tests/golden pins the exact bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.model import Feed, Person, Tombstone, Update
from feeds.render import FORMATS, format_for, render_atom, render_json, render_rss

from .reference import reference_atom, reference_json, reference_rss

# Any character XML 1.0 allows (no other control characters, no surrogates).
CHARS = st.characters(
    exclude_categories=["Cs"],
    exclude_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
)
TEXT = st.text(CHARS, max_size=40)
WORDS = st.text(CHARS, min_size=1, max_size=20).filter(str.strip)
SPICY = st.sampled_from(["R&D", "<b>x</b>", '"q"', "a > b", "é 東京", "\r\n", "]]>", "'s"])
LINE = st.one_of(WORDS, SPICY)
ZONES = st.sampled_from(["UTC", "Asia/Tehran", "Europe/Lisbon", "America/St_Johns"])
LANGUAGES = st.sampled_from(["en", "fa", "pt-PT"])


@st.composite
def times(draw: st.DrawFn) -> datetime:
    base = datetime(2018, 1, 1, tzinfo=UTC)
    moment = base + timedelta(seconds=draw(st.integers(0, 10**8)))
    return moment.astimezone(ZoneInfo(draw(ZONES)))


PEOPLE = st.builds(
    Person,
    name=WORDS,
    email=st.none() | st.just("desk@example.org"),
    uri=st.none() | st.just("https://example.org/a?b=1&c=2"),
)


@st.composite
def updates(draw: st.DrawFn, n: int) -> Update:
    published = draw(times())
    later = draw(st.sampled_from([timedelta(0), timedelta(minutes=7)]))
    updated = (published + later).astimezone(ZoneInfo(draw(ZONES)))
    title = draw(LINE.filter(str.strip))
    return Update(
        id=f"tag:example.org,2018:s/u{n}",
        anchor=f"u{n}",
        story_slug="s",
        published=published,
        updated=updated,
        title=title,
        title_is_derived=draw(st.booleans()),
        text="",
        html=draw(st.one_of(st.just(""), st.just("<p>a &amp; b</p>\n<p>c</p>"), TEXT)),
        summary=draw(st.one_of(LINE, TEXT.filter(str.strip))),
        url=f"https://example.org/s/#u{n}",
        authors=tuple(draw(st.lists(PEOPLE, max_size=2))),
        tags=tuple(draw(st.lists(LINE, max_size=2))),
        language=draw(LANGUAGES),
    )


@st.composite
def feeds(draw: st.DrawFn) -> Feed:
    count = draw(st.integers(0, 4))
    entries = sorted(
        (draw(updates(n)) for n in range(count)), key=lambda u: u.sort_key, reverse=True
    )
    tombstones = tuple(
        Tombstone(
            f"tag:example.org,2018:s/gone{n}",
            "s",
            f"https://example.org/s/#gone{n}",
            draw(times()),
            draw(st.one_of(st.just(""), LINE)),
        )
        for n in range(draw(st.integers(0, 2)))
    )
    links = draw(
        st.lists(
            st.sampled_from(
                [
                    ("hub", "https://hub.example.org/"),
                    ("prev-archive", "https://example.org/s/archive-1-{name}"),
                    ("current", "https://example.org/s/{name}"),
                    ("next-archive", "https://example.org/s/a&b-{name}"),
                ]
            ),
            max_size=3,
            unique=True,
        )
    )
    return Feed(
        id="tag:example.org,2018:s",
        title=draw(LINE.filter(str.strip)),
        subtitle=draw(st.one_of(st.just(""), LINE)),
        page_url="https://example.org/s/",
        folder_url="https://example.org/s/",
        updated=draw(times()),
        language=draw(LANGUAGES),
        authors=tuple(draw(st.lists(PEOPLE, max_size=2))),
        tags=tuple(draw(st.lists(LINE, max_size=2))),
        entries=tuple(entries),
        related=draw(st.none() | st.just("https://elsewhere.example.org/story?id=1&x=2")),
        tombstones=tombstones,
        links=tuple(links),
        archive=draw(st.booleans()),
        stylesheet=draw(st.none() | st.sampled_from(["../feed.css", "feed.css"])),
        ttl=draw(st.none() | st.integers(1, 600)),
    )


def canonical(document: bytes) -> bytes:
    """The document in C14N 2.0, processing instructions included (the XSL link)."""
    out: bytes = etree.tostring(etree.fromstring(document).getroottree(), method="c14n2")
    return out


@settings(max_examples=300, deadline=None)
@given(feeds())
def test_rss_is_the_reference(feed: Feed) -> None:
    url = feed.folder_url + "rss.xml"
    assert canonical(render_rss(feed, url)) == canonical(reference_rss(feed, url))


@settings(max_examples=300, deadline=None)
@given(feeds())
def test_atom_is_the_reference(feed: Feed) -> None:
    url = feed.folder_url + "atom.xml"
    assert canonical(render_atom(feed, url)) == canonical(reference_atom(feed, url))


@settings(max_examples=300, deadline=None)
@given(feeds())
def test_json_feed_is_the_reference(feed: Feed) -> None:
    url = feed.folder_url + "feed.json"
    document = render_json(feed, url)
    assert json.loads(document) == json.loads(reference_json(feed, url))
    # Laid out as the json module lays it out, members in the same order.
    text = json.dumps(json.loads(document), ensure_ascii=False, indent=2) + "\n"
    assert document == text.encode()


@settings(max_examples=100, deadline=None)
@given(feeds())
def test_the_registry_renders_what_the_renderers_do(feed: Feed) -> None:
    renderers = {"rss": render_rss, "atom": render_atom, "json": render_json}
    for fmt in FORMATS:
        url = feed.folder_url + fmt.file_name
        assert fmt.render(feed, url) == renderers[fmt.name](feed, url)


def test_files_are_told_apart_by_name() -> None:
    assert [f.file_name for f in FORMATS] == ["rss.xml", "atom.xml", "feed.json"]
    assert [f.name for f in FORMATS if f.archives] == ["rss", "atom"]
    for fmt in FORMATS:
        assert format_for(fmt.file_name) is fmt
        assert fmt.media_type == fmt.essence + "; charset=utf-8"
    assert format_for("archive-3-atom.xml") is FORMATS[1]
    assert format_for("archive-3-feed.json") is None  # JSON Feed has no archives
    for name in ["index.html", "feed.xsl", "archive-x-rss.xml", "old-rss.xml", "rss.xml.tmp"]:
        assert format_for(name) is None


# Lines that open, continue or close every kind of block, to shuffle.
BLOCK_LINES = st.sampled_from(
    [
        "",
        "text",
        "## 2024-06-01 10:00",
        "# 10:00",
        "##x",
        "   ## y",
        "    code",
        "```",
        "~~~",
        "> quote",
        "- item",
        "1. item",
        "  - nested",
        "<div>",
        "</div>",
        "<!-- c",
        "-->",
        "---",
        "===",
        "| a | b |",
        "|---|---|",
        "[ref]: https://example.org",
        "*emph* `code` <b>x</b>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(BLOCK_LINES, max_size=25))
def test_the_structure_parser_sees_the_blocks_the_full_parser_sees(lines: list[str]) -> None:
    from feeds.text import MARKDOWN, STRUCTURE

    def blocks(md: Any, text: str) -> list[tuple[str, Any, Any]]:
        return [
            (node.name, node.srcmap, node.meta if node.name != "paragraph" else None)
            for node in md.tree(text).children
        ]

    text = "\n".join(lines)
    assert blocks(STRUCTURE, text) == blocks(MARKDOWN, text)
