"""The built example feeds, as feed readers and the specs see them."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from feeds.build import render_all, story_folder
from feeds.render.formats import FORMATS

from .conftest import EXAMPLE_DATA, StoreFactory, publish_store, render_store, story
from .feedcheck import CONTENT, DC, A, check_atom, check_rss


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return render_store(EXAMPLE_DATA)


def parsed(files: dict[str, bytes], name: str) -> feedparser.FeedParserDict:
    result = feedparser.parse(files[name])
    assert result.bozo == 0, f"{name}: {result.get('bozo_exception')}"
    return result


def utc(struct) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.fromtimestamp(calendar.timegm(struct), UTC)


SITE_FILES = [
    "atom.xml",
    "feed.css",
    "feed.html",
    "feed.json",
    "feeds.opml",
    "index.html",
    "rss.xml",
    "style.css",
]
STORY_FILES = ["atom.xml", "feed.html", "feed.json", "index.html", "rss.xml"]


def xml_feeds(files: dict[str, bytes]) -> list[str]:
    return [name for name in files if name.endswith(("rss.xml", "atom.xml"))]


def test_expected_files(files: dict[str, bytes]) -> None:
    assert sorted(files) == sorted(
        SITE_FILES
        + [f"{slug}/{n}" for slug in ("kazerun", "vila-mares-storm") for n in STORY_FILES]
    )


def test_every_feed_parses_cleanly_in_feedparser(files: dict[str, bytes]) -> None:
    for name in xml_feeds(files):
        result = parsed(files, name)
        assert result.version == ("atom10" if name.endswith("atom.xml") else "rss20")
        assert result.entries


def test_every_feed_passes_the_spec_checks(files: dict[str, bytes]) -> None:
    for name in xml_feeds(files):
        (check_atom if name.endswith("atom.xml") else check_rss)(files[name])


@pytest.mark.parametrize("fmt", ["rss.xml", "atom.xml"])
def test_kazerun_story_feed(files: dict[str, bytes], fmt: str) -> None:
    feed = parsed(files, f"kazerun/{fmt}")
    assert len(feed.entries) == 5
    published = [utc(e.published_parsed) for e in feed.entries]
    assert published == sorted(published, reverse=True)
    top = feed.entries[0]
    assert utc(top.published_parsed) == datetime(2018, 5, 16, 22, 0, tzinfo=UTC)
    assert top.id == "tag:live.example.org,2018:kazerun/convoy-enters-kazerun"
    assert top.link == "https://live.example.org/kazerun/#convoy-enters-kazerun"
    assert top.title == "Armoured convoy reaches the town"
    assert top.author == "Feeds example desk"
    assert "Shiraz" in top.content[0].value
    assert top.content[0].type == "text/html"
    assert [t.term for t in top.tags] == ["Iran", "Kazerun", "protests"]
    assert feed.feed.link == "https://live.example.org/kazerun/"
    assert utc(feed.feed.updated_parsed) == datetime(2018, 5, 16, 22, 0, tzinfo=UTC)


def test_site_feed_reuses_story_ids(files: dict[str, bytes]) -> None:
    for fmt in ("rss.xml", "atom.xml"):
        site = parsed(files, fmt)
        story_ids = {
            e.id
            for slug in ("kazerun", "vila-mares-storm")
            for e in parsed(files, f"{slug}/{fmt}").entries
        }
        assert {e.id for e in site.entries} == story_ids
        published = [utc(e.published_parsed) for e in site.entries]
        assert published == sorted(published, reverse=True)


def test_rss_details(files: dict[str, bytes]) -> None:
    channel = check_rss(files["kazerun/rss.xml"]).find("channel")
    assert channel is not None
    assert channel.findtext("lastBuildDate") == "Thu, 17 May 2018 02:30:00 +0430"
    self_link = channel.find(A + "link")
    assert self_link is not None
    assert self_link.get("href") == "https://live.example.org/kazerun/rss.xml"
    assert self_link.get("type") == "application/rss+xml"
    item = channel.find("item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert item.findtext(DC + "creator") == "Feeds example desk"
    assert "<p>" in (item.findtext(CONTENT + "encoded") or "")
    assert "<" not in (item.findtext("description") or "")  # a plain-text excerpt


def test_atom_details(files: dict[str, bytes]) -> None:
    root = check_atom(files["vila-mares-storm/atom.xml"])
    entry = root.find(A + "entry")
    assert entry is not None
    (link,) = entry.findall(A + "link")
    assert link.attrib == {
        "href": "https://live.example.org/vila-mares-storm/#all-clear",
        "rel": "alternate",
        "type": "text/html",
    }
    content = entry.find(A + "content")
    assert content is not None and content.get("type") == "html"
    assert root.findtext(A + "updated") == "2025-10-26T03:10:00+00:00"
    assert [a.findtext(A + "name") for a in root.findall(A + "author")] == [
        "Ana Ribeiro",
        "Tom Hale",
    ]


def test_escaping_and_non_ascii_survive(files: dict[str, bytes]) -> None:
    feed = parsed(files, "vila-mares-storm/atom.xml")
    texts = " ".join(e.content[0].value for e in feed.entries)
    assert "&gt; 120 km/h &amp; rising" in texts  # HTML-escaped inside the HTML
    assert "Praça da Ribeira" in texts
    titles = [e.title for e in feed.entries]
    assert any("> 120 km/h & rising" in t for t in titles)


def test_items_per_feed_caps_every_feed(make_store: StoreFactory) -> None:
    site = (
        (EXAMPLE_DATA / "site.toml")
        .read_text()
        .replace("items_per_feed = 50", "items_per_feed = 2")
    )
    body = "\n\n".join(f"## 2024-06-0{d} 09:00\n\nDay {d}." for d in range(1, 5))
    root = make_store(site=site, s=story(body=body))
    published = publish_store(root)
    assert [u.text for u in story_folder(published.site, published.stories[0]).feed.entries] == [
        "Day 4.",
        "Day 3.",
    ]
    out = render_all(published)
    assert len(feedparser.parse(out["atom.xml"]).entries) == 2
    # The feed's updated is the newest update even when older ones are cut.
    assert feedparser.parse(out["s/atom.xml"]).feed.updated.startswith("2024-06-04")


def test_story_language_marks_entries_in_the_site_feed(make_store: StoreFactory) -> None:
    root = make_store(s=story('title = "S"\nlanguage = "pt-PT"', "## 2024-06-01 09:00\n\nOlá."))
    out = render_store(root)
    entry = check_atom(out["atom.xml"]).find(A + "entry")
    assert entry is not None
    assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "pt-PT"
    assert b"xml:lang" not in out["s/atom.xml"].split(b"<entry>", 1)[1]


def test_renderers_do_not_touch_the_clock(files: dict[str, bytes]) -> None:
    """No date in any feed is later than the newest update (feedgen stamps now())."""
    newest = datetime(2025, 10, 26, 3, 10, tzinfo=UTC)
    for name in xml_feeds(files):
        feed = parsed(files, name)
        stamps = [feed.feed.get("updated_parsed")] + [
            t for e in feed.entries for t in (e.get("updated_parsed"), e.get("published_parsed"))
        ]
        assert all(utc(s) <= newest for s in stamps if s)
    assert {f.file_name for f in FORMATS} == {"rss.xml", "atom.xml", "feed.json"}


def test_empty_site_builds_valid_feeds(tmp_path: Path, make_store: StoreFactory) -> None:
    root = make_store()
    out = render_store(root)
    assert sorted(out) == SITE_FILES
    check_atom(out["atom.xml"])
    check_rss(out["rss.xml"])
    assert feedparser.parse(out["rss.xml"]).bozo == 0


def test_rss_description_is_escaped_html(make_store: StoreFactory) -> None:
    """Readers treat <description> as HTML: a code sample in the text must stay text."""
    root = make_store(
        s=story(body="## 2024-06-01 09:00\n\nType `<img src=x onerror=alert(1)>` & go.")
    )
    out = render_store(root)
    item = check_rss(out["s/rss.xml"]).find("channel/item")
    assert item is not None
    assert item.findtext("description") == "Type &lt;img src=x onerror=alert(1)&gt; &amp; go."
    entry = feedparser.parse(out["s/rss.xml"]).entries[0]
    assert "<img" not in entry.summary
    atom = feedparser.parse(out["s/atom.xml"]).entries[0]
    assert (
        atom.content[0].value
        == "<p>Type <code>&lt;img src=x onerror=alert(1)&gt;</code> &amp; go.</p>"
    )
    assert "summary_detail" not in atom or atom.summary_detail.type == "text/html"


def test_atom_entries_carry_the_whole_text_and_no_excerpt(make_store: StoreFactory) -> None:
    """rss2email (html-mail off, its default) takes a text/plain part before HTML:
    an Atom <summary> would be mailed instead of the update, cut mid-sentence."""
    long = " ".join(f"Sentence {n} of a long update." for n in range(60))
    root = make_store(s=story(body=f"## 2024-06-01 09:00\n\n{long}"))
    out = render_store(root)
    entry = check_atom(out["s/atom.xml"]).find("{http://www.w3.org/2005/Atom}entry")
    assert entry is not None
    assert entry.find("{http://www.w3.org/2005/Atom}summary") is None
    parsed = feedparser.parse(out["s/atom.xml"]).entries[0]
    assert "Sentence 59 of a long update." in parsed.content[0].value
    assert [c.type for c in parsed.content] == ["text/html"]


def test_authors_with_email_are_credited_once_in_rss(make_store: StoreFactory) -> None:
    root = make_store(
        s=story(
            'title = "S"\nauthors = ["Ana <ana@x.test>", "Tom <tom@x.test>"]',
            "## 2024-06-01 09:00\n\nx",
        )
    )
    out = render_store(root)
    item = check_rss(out["s/rss.xml"]).find("channel/item")
    assert item is not None
    assert [c.text for c in item.findall(DC + "creator")] == ["Ana", "Tom"]
    entry = check_atom(out["s/atom.xml"]).find(A + "entry")
    assert entry is not None
    assert [a.findtext(A + "email") for a in entry.findall(A + "author")] == [
        "ana@x.test",
        "tom@x.test",
    ]


def test_title_only_update_has_content(make_store: StoreFactory) -> None:
    root = make_store(s=story(body="## 2024-06-01 09:00 — Polls close\n"))
    out = render_store(root)
    for name in ("s/rss.xml", "s/atom.xml"):
        entry = feedparser.parse(out[name]).entries[0]
        assert entry.title == "Polls close"
        assert entry.content[0].value == "<p>Polls close</p>"


def test_json_feed_has_the_same_items(files: dict[str, bytes]) -> None:
    """JSON Feed 1.1 (feedparser 6.0 cannot read it, so the spec's rules are checked here)."""
    import json

    doc = json.loads(files["kazerun/feed.json"])
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"] == "https://live.example.org/kazerun/feed.json"
    assert doc["home_page_url"] == "https://live.example.org/kazerun/"
    atom = parsed(files, "kazerun/atom.xml")
    assert [i["id"] for i in doc["items"]] == [e.id for e in atom.entries]
    first = doc["items"][0]
    assert first["date_published"] == "2018-05-17T02:30:00+04:30"
    assert first["url"] == "https://live.example.org/kazerun/#convoy-enters-kazerun"
    assert first["content_html"].startswith("<p>A column of about 40")
    assert first["authors"] == [{"name": "Feeds example desk"}]
    assert first["tags"] == ["Iran", "Kazerun", "protests"]
    edited = [
        i for i in json.loads(files["vila-mares-storm/feed.json"])["items"] if "date_modified" in i
    ]
    assert [i["date_modified"] for i in edited] == ["2025-10-26T00:50:00+01:00"]


def test_opml_lists_every_story_feed_and_not_the_site_feed_too(files: dict[str, bytes]) -> None:
    """An OPML import subscribes to every outline: with the site-wide feed beside the
    story feeds, each update would arrive twice."""
    from lxml import etree

    root = etree.fromstring(files["feeds.opml"])
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline")]
    assert urls == [
        "https://live.example.org/kazerun/atom.xml",
        "https://live.example.org/vila-mares-storm/atom.xml",
    ]
    for url in urls:
        assert url.removeprefix("https://live.example.org/") in files


def test_ttl_from_site_toml(make_store: StoreFactory) -> None:
    from .conftest import SITE_TOML

    root = make_store(site=SITE_TOML + "ttl = 5\n", s=story(body="## 2024-06-01 09:00\n\nx"))
    out = render_store(root)
    assert check_rss(out["s/rss.xml"]).findtext("channel/ttl") == "5"
