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
    desktop = ARTIFACTS / "kazerun-page-desktop.png"
    chromium(f"{base}kazerun/", root, f"--screenshot={desktop}", "--window-size=1280,900")
    assert desktop.stat().st_size > 10_000


def test_index_page_lists_every_story(site: tuple[str, Path, Path]) -> None:
    base, root, _ = site
    page = lxml_html.fromstring(chromium(base, root, "--dump-dom"))
    links = [a.get("href") for a in page.cssselect("ul.stories a.title")]
    assert sorted(links) == ["hostile/", "kazerun/", "vila-mares-storm/"]
    types = {ln.get("type") for ln in page.cssselect('link[rel="alternate"]')}
    assert "text/x-opml" in types and "application/atom+xml" in types
    # Stories in different zones: each time says its zone.
    dates = [d.text_content() for d in page.cssselect("ul.stories .date time")]
    assert any(" IRDT, " in d for d in dates) and any(" WET, " in d for d in dates), dates


@pytest.mark.parametrize("fmt", ["rss.xml", "atom.xml"])
def test_a_feed_on_a_static_host_is_styled_without_xslt(
    fmt: str, site: tuple[str, Path, Path]
) -> None:
    """With XSLT switched off (as Chromium is removing it), a feed opened from a host
    that cannot tell browsers from readers is styled by feed.css, not shown as a tree."""
    base, root, _ = site
    url = f"{base}vila-mares-storm/{fmt}"
    dom = chromium(url, root, "--disable-features=XSLT", "--dump-dom")
    assert "does not appear to have any style information" not in dom
    assert (
        'type="text/css" href="../feed.css"'
        in (root / "out" / "vila-mares-storm" / fmt).read_text()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"vila-mares-storm-{fmt.replace('.', '-')}-no-xslt.png"
    chromium(url, root, "--disable-features=XSLT", f"--screenshot={shot}", "--window-size=800,900")
    assert shot.stat().st_size > 10_000


def test_the_feed_page_shows_what_readers_get(site: tuple[str, Path, Path]) -> None:
    base, root, _ = site
    page = lxml_html.fromstring(chromium(f"{base}vila-mares-storm/feed.html", root, "--dump-dom"))
    assert "This is a news feed." in page.text_content()
    assert "https://live.example.org/vila-mares-storm/atom.xml" in page.text_content()
    entries = feedparser.parse(
        (root / "out" / "vila-mares-storm" / "atom.xml").read_bytes()
    ).entries
    assert [h.text_content() for h in page.cssselect("li.update h2")] == [e.title for e in entries]
    when = page.cssselect("li.update .when time")[0].text_content()
    assert when.startswith("03:10 WET, Sunday 26 October 2025")  # local time, the zone's name
    site_page = lxml_html.fromstring(chromium(f"{base}feed.html", root, "--dump-dom"))
    stories = {a.text_content() for a in site_page.cssselect("li.update .when a")}
    assert stories == {
        "Hostile </script><script>document.title='pwned-title'</script> input",  # as text
        "Storm batters Vila Marés: overnight live updates",
        "Deadly clashes in Kazerun as security forces move against protesters",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in (("story", "vila-mares-storm/feed.html"), ("site", "feed.html")):
        shot = ARTIFACTS / f"feed-page-{name}.png"
        chromium(f"{base}{path}", root, f"--screenshot={shot}", "--window-size=800,900")
        assert shot.stat().st_size > 10_000


def test_feeds_serve_gives_chromium_the_feed_page_and_readers_the_feed(
    site: tuple[str, Path, Path],
) -> None:
    _, root, data = site
    import socket
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "feeds",
            "serve",
            "--data",
            str(data),
            "--out",
            str(root / "out"),
            "--port",
            str(port),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/vila-mares-storm/rss.xml"
        page = lxml_html.fromstring(chromium(url, root, "--disable-features=XSLT", "--dump-dom"))
        assert "This is a news feed." in page.text_content()
        assert page.cssselect("li.update h2")
        feed = feedparser.parse(url)  # a feed reader, by its own Accept header
        assert feed.bozo == 0 and feed.version == "rss20" and feed.entries
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "vila-mares-storm-rss-in-chromium-via-serve.png"
        chromium(url, root, "--disable-features=XSLT", f"--screenshot={shot}",
                 "--window-size=800,900")  # fmt: skip
        assert shot.stat().st_size > 10_000
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_on_a_phone_the_newest_update_is_on_the_first_screen(
    site: tuple[str, Path, Path],
) -> None:
    """At 390 x 844 the newest update starts within the first screen (the background is
    folded), measured by Chromium's layout in a same-origin frame of that size."""
    base, root, _ = site
    probe = root / "out" / "_phone.html"
    probe.write_text(
        '<!doctype html><body style="margin:0">'
        '<iframe id="f" src="kazerun/" style="width:390px;height:844px;border:0"></iframe>'
        "<script>f.onload = () => { const d = f.contentDocument;"
        " const u = d.querySelector('li.update').getBoundingClientRect();"
        " document.body.dataset.top = Math.round(u.top);"
        " document.body.dataset.open = d.querySelector('details.background').open; };"
        "</script>"
    )
    try:
        dom = lxml_html.fromstring(chromium(f"{base}_phone.html", root, "--dump-dom"))
    finally:
        probe.unlink()
    top = int(dom.find(".//body").get("data-top"))
    assert 0 < top < 844 - 120, top  # its time and first lines are visible
    assert dom.find(".//body").get("data-open") == "false"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "kazerun-page-390x844.png"
    chromium(f"{base}kazerun/", root, f"--screenshot={shot}", "--window-size=390,844",
             "--hide-scrollbars")  # fmt: skip
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
