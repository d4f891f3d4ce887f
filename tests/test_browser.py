"""The pages and the feeds' XSL view in real headless Chromium.

Needs Debian's `chromium` (`.ci/run` installs it). Without it these tests are
skipped, unless FEEDS_REQUIRE_BROWSER=1 (as in CI) makes that a failure.
Screenshots are saved in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from lxml import html as lxml_html

from .conftest import EXAMPLE_DATA, REPO, load_store, story
from .conftest import run_folder as run_build
from .servers import static_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"

if CHROMIUM is None and os.environ.get("FEEDS_REQUIRE_BROWSER") == "1":
    raise RuntimeError("chromium is required (FEEDS_REQUIRE_BROWSER=1) but not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium not installed"),
]

HOSTILE = story(
    "title = \"Hostile </script><script>document.title='pwned-title'</script> input\"\n"
    'summary = "x"',
    """
    ## 2024-06-01 10:00 — Script <script>document.title='pwned-heading'</script> {#bad}

    <script>document.title = 'pwned-body';</script>
    <img src="nope.png" onerror="document.body.setAttribute('data-pwned', '1')">
    <a href="javascript:document.title='pwned-link'">a link</a>
    """,
)


def chromium(url: str, tmp: Path, *extra: str) -> str:
    assert CHROMIUM
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            "--virtual-time-budget=3000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("site")
    data = root / "data"
    shutil.copytree(EXAMPLE_DATA, data)
    (data / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    run_build(data, root / "out", root / "state")
    with static_server(root / "out") as base:
        yield base, root, data


def test_story_page_in_chromium(site: tuple[str, Path, Path]) -> None:
    base, root, data = site
    dom = chromium(f"{base}kazerun/", root, "--dump-dom")
    page = lxml_html.fromstring(dom)
    story = {s.slug: s for s in load_store(data).stories}["kazerun"]
    assert [li.get("id") for li in page.cssselect("li.update")] == [u.anchor for u in story.updates]
    first = page.cssselect("li.update")[0]
    assert first.cssselect("h2")[0].text_content() == "Armoured convoy reaches the town"
    assert first.cssselect("time")[0].get("datetime") == "2018-05-17T02:30:00+04:30"
    assert "Shiraz" in first.text_content()
    feeds = {ln.get("type"): ln.get("href") for ln in page.cssselect('link[rel="alternate"]')}
    assert feeds == {
        "application/rss+xml": "rss.xml",
        "application/atom+xml": "atom.xml",
        "application/feed+json": "feed.json",
    }
    assert page.cssselect('meta[property="og:title"]')[0].get("content") == story.title

    (ld_script,) = page.cssselect('script[type="application/ld+json"]')
    ld = json.loads(ld_script.text_content())
    assert ld["@type"] == "LiveBlogPosting" and ld["headline"] == story.title
    feed = feedparser.parse((root / "out" / "kazerun" / "atom.xml").read_bytes())
    assert [(u["url"], u["datePublished"]) for u in ld["liveBlogUpdate"]] == [
        (e.link, e.published) for e in feed.entries
    ]
    assert ld["coverageEndTime"] == "2018-05-17T02:30:00+04:30"  # status = "ended"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "kazerun-page-phone.png"
    chromium(
        f"{base}kazerun/",
        root,
        f"--screenshot={shot}",
        "--window-size=412,915",
        "--hide-scrollbars",
    )
    assert shot.stat().st_size > 10_000


def test_index_page_lists_every_story(site: tuple[str, Path, Path]) -> None:
    base, root, _ = site
    page = lxml_html.fromstring(chromium(base, root, "--dump-dom"))
    links = [a.get("href") for a in page.cssselect("ul.stories a.title")]
    assert sorted(links) == ["hostile/", "kazerun/", "vila-mares-storm/"]
    types = {ln.get("type") for ln in page.cssselect('link[rel="alternate"]')}
    assert "text/x-opml" in types and "application/atom+xml" in types


@pytest.mark.parametrize("fmt", ["rss.xml", "atom.xml"])
def test_feeds_open_as_readable_pages(fmt: str, site: tuple[str, Path, Path]) -> None:
    base, root, _ = site
    page = lxml_html.fromstring(chromium(f"{base}vila-mares-storm/{fmt}", root, "--dump-dom"))
    assert "This is a news feed." in page.text_content()
    assert page.cssselect("h1#feed-title")[0].text_content().startswith("Storm batters Vila Mar")
    entries = feedparser.parse((root / "out" / "vila-mares-storm" / fmt).read_bytes()).entries
    items = page.cssselect("ol#items li.item")
    assert [li.cssselect("a")[0].text_content().strip() for li in items] == [
        e.title for e in entries
    ]
    # The RSS description is escaped HTML; the view shows its text, not "&gt;".
    assert "gusts of > 120 km/h & rising" in page.text_content()
    assert page.get("lang") == "en"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"vila-mares-storm-{fmt.replace('.', '-')}.png"
    chromium(f"{base}vila-mares-storm/{fmt}", root, f"--screenshot={shot}", "--window-size=800,900")
    assert shot.stat().st_size > 10_000


def test_no_script_from_the_store_runs(site: tuple[str, Path, Path]) -> None:
    base, root, _ = site
    dom = chromium(f"{base}hostile/", root, "--dump-dom")
    page = lxml_html.fromstring(dom)
    # Had any script run, document.title would be exactly one of the 'pwned-...' strings.
    assert page.findtext(".//title") == (
        "Hostile </script><script>document.title='pwned-title'</script> input"
    )
    assert page.find(".//body").get("data-pwned") is None
    assert [s.get("type") for s in page.iter("script")] == ["application/ld+json"]
    assert (
        "Script <script>document.title='pwned-heading'</script>"
        in page.cssselect("#bad h2")[0].text_content()
    )
    assert not page.cssselect('a[href^="javascript"]')
