"""`feeds follow`: live-blog pages on a server on 127.0.0.1, polled as a follower would.

Every test runs a real HTTP server on 127.0.0.1 (let through with import_allow_hosts), runs
`feeds follow --once` with FEEDS_NOW moving on between polls, and reads what it built with
lxml and feedparser. Nothing leaves the machine; every test is stopped after 30 s.
"""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result
from lxml import etree

from feeds import __version__
from feeds.cli import cli
from feeds.errors import display_path

from .conftest import SITE_TOML, StoreFactory

T0 = datetime(2025, 1, 15, 23, 0, tzinfo=UTC)
CONTACT = "https://news.test/about-feeds"
ATOM = "{http://www.w3.org/2005/Atom}"
AT = "{http://purl.org/atompub/tombstones/1.0}"
MODIFIED = {"v1": "Wed, 15 Jan 2025 11:00:00 GMT", "v2": "Wed, 15 Jan 2025 12:00:00 GMT"}


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """No test may take longer than 30 s (a hung fetch fails the test, not the run)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the test took longer than 30 s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 30)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@dataclass
class Page:
    body: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False


class Server:
    """Pages that a test changes between polls, on 127.0.0.1; every request is kept."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.spans: list[tuple[str, float, float]] = []  # host, when it began and ended
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                began = time.monotonic()
                try:
                    self._get()
                finally:
                    host = self.headers.get("Host", "").partition(":")[0]
                    server.spans.append((host, began, time.monotonic()))

            def _get(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                page = server.pages.get(self.path, Page(status=404))
                validators = {"ETag": page.etag, "Last-Modified": page.last_modified}
                validators = {k: v for k, v in validators.items() if v}
                if page.status != 200:
                    self._answer(page.status, page.headers, b"")
                elif _not_modified(page, headers):
                    self._answer(304, validators, b"")
                else:
                    body = page.body.encode()
                    extra = {"Content-Type": "text/plain; charset=utf-8", **validators}
                    if page.gzip and "gzip" in headers.get("accept-encoding", ""):
                        body, extra["Content-Encoding"] = gzip.compress(body), "gzip"
                    self._answer(200, {**extra, **page.headers}, body)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def asked(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


def _not_modified(page: Page, asked: dict[str, str]) -> bool:
    if "if-none-match" in asked:  # RFC 9110 13.2.2: If-Modified-Since is then ignored
        return page.etag is not None and asked["if-none-match"] == page.etag
    return page.last_modified is not None and asked.get("if-modified-since") == page.last_modified


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.server.shutdown()
    running.server.server_close()


def site(make_store: StoreFactory, contact: str | None = CONTACT) -> Path:
    extra = 'import_allow_hosts = "127.0.0.1"\n'
    return make_store(SITE_TOML + extra + (f'follow_contact = "{contact}"\n' if contact else ""))


def sources(root: Path, server: Server, *entries: dict[str, Any]) -> None:
    lines = []
    for entry in entries:
        lines.append("[[source]]")
        for key, value in entry.items():
            value = server.base + value if key == "url" and value.startswith("/") else value
            lines.append(f"{key} = {json.dumps(value) if isinstance(value, str) else value}")
        lines.append("")
    (root / "sources.toml").write_text("\n".join(lines))


def follow(root: Path, at: datetime, *args: str) -> Result:
    now = at.isoformat().replace("+00:00", "Z")
    return CliRunner(env={"FEEDS_NOW": now}).invoke(
        cli, ["follow", "--once", "--gap", "0", *where(root), *args]
    )


def where(root: Path) -> list[str]:
    """The store, and the feeds beside it (never in the working folder)."""
    return ["--data", str(root), "--out", str(root.parent / "out")]


def text_page(title: str, *updates: str) -> str:
    return "\n\n".join([title, *updates]) + "\n"


def entries(out: Path, slug: str) -> dict[str, tuple[datetime, str]]:
    """The story's Atom feed as lxml reads it: id -> (published in UTC, text)."""
    tree = etree.parse(str(out / slug / "atom.xml"))
    found = {}
    for entry in tree.iter(f"{ATOM}entry"):
        published = datetime.fromisoformat(entry.findtext(f"{ATOM}published") or "")
        text = etree.fromstring(f"<x>{entry.findtext(f'{ATOM}content')}</x>").xpath("string()")
        found[entry.findtext(f"{ATOM}id") or ""] = (published.astimezone(UTC), text.strip())
    return found


def tombstones(out: Path, slug: str) -> list[tuple[str, str]]:
    tree = etree.parse(str(out / slug / "atom.xml"))
    return [
        (t.get("ref") or "", t.findtext(f"{AT}comment") or "")
        for t in tree.iter(f"{AT}deleted-entry")
    ]


def utc(hhmm: str, day: int = 15) -> datetime:
    return datetime(2025, 1, day, int(hhmm[:2]), int(hhmm[3:]), tzinfo=UTC)


# --- three pages over five polls -----------------------------------------------------

HARBOUR = [  # Asia/Kolkata, 24-hour times: 14:05 is 08:35Z
    ["14:05 — Waves are breaking over the pier.", "13:40 — A storm warning is in force."],
    ["14:30 — The ferry service is suspended.", "14:05 — Waves are breaking over the pier.",
     "13:40 — A storm warning is in force."],
    ["15:00 — The coast road is closed.", "14:30 — The ferry service is suspended.",
     "13:40 — A storm warning is in force."],  # 14:05 gone: missing once
    ["15:30 — Sandbags are handed out.", "15:00 — The coast road is closed.",
     "14:30 — The ferry service is suspended.", "13:40 — A storm warning is in force."],  # twice
    ["15:45 — The wind is easing.", "15:30 — Sandbags are handed out.",
     "15:00 — The coast road is closed.", "14:30 — The ferry service is suspended.",
     "13:40 — A storm warning is in force."],
]  # fmt: skip
COUNT = [  # 12-hour times in ET (the zone comes from the page): 2:05 p.m. is 19:05Z
    ["2:05 p.m. ET: Ballots arrive from the north."],
    ["3:10 p.m. ET: The count resumes.", "2:05 p.m. ET: Ballots arrive from the north."],
    ["4:20 p.m. ET: Turnout is put at 61 percent.",
     "2:05 p.m. ET: Ballots arrive from the north."],  # 3:10 missing once...
    ["5:30 p.m. ET: The first result is declared.",
     "4:20 p.m. ET: Turnout is put at 61.5 percent, the clerk now says.",  # edited on the page
     "3:10 p.m. ET: The count resumes.",  # ...and back: its count starts again
     "2:05 p.m. ET: Ballots arrive from the north."],
    ["5:30 p.m. ET: The first result is declared.",
     "4:20 p.m. ET: Turnout is put at 61.5 percent, the clerk now says.",
     "2:05 p.m. ET: Ballots arrive from the north."],  # 3:10 missing once again: kept
]  # fmt: skip
QUIET = [  # Europe/Lisbon (UTC in January), with ETag and Last-Modified: 304s between changes
    ("v1", ["11:00 - The harbour master speaks at noon.", "10:00 - Boats stay in port."]),
    ("v1", None),
    ("v1", None),
    ("v2", ["12:00 - The harbour reopens.", "11:00 - The harbour master speaks at noon.",
            "10:00 - Boats stay in port."]),
    ("v2", None),
]  # fmt: skip

EXPECTED = {  # every update and its UTC time
    "harbour": {
        "A storm warning is in force.": utc("08:10"),
        "Waves are breaking over the pier.": utc("08:35"),
        "The ferry service is suspended.": utc("09:00"),
        "The coast road is closed.": utc("09:30"),
        "Sandbags are handed out.": utc("10:00"),
        "The wind is easing.": utc("10:15"),
    },
    "count": {
        "Ballots arrive from the north.": utc("19:05"),
        "The count resumes.": utc("20:10"),
        "Turnout is put at 61 percent.": utc("21:20"),  # then edited on the page
        "The first result is declared.": utc("22:30"),
    },
    "quiet": {
        "Boats stay in port.": utc("10:00"),
        "The harbour master speaks at noon.": utc("11:00"),
        "The harbour reopens.": utc("12:00"),
    },
}


def test_three_pages_growing_over_five_polls(server: Server, make_store: StoreFactory) -> None:
    root = site(make_store)
    out = root.parent / "out"
    sources(
        root,
        server,
        {"url": "/harbour", "story": "harbour", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
        {"url": "/count", "story": "count", "date": "2025-01-15"},
        {"url": "/quiet", "story": "quiet", "timezone": "Europe/Lisbon", "date": "2025-01-15"},
    )
    # Per story, every id seen in its Atom feed: (published, its first text, its last text).
    seen: dict[str, dict[str, tuple[datetime, str, str]]] = {slug: {} for slug in EXPECTED}
    for poll in range(5):
        server.pages["/harbour"] = Page(text_page("Harbour storm live", *HARBOUR[poll]))
        server.pages["/count"] = Page(text_page("County count live", *COUNT[poll]))
        etag, quiet = QUIET[poll]
        if quiet is not None:
            page = text_page("Harbour news", *quiet)
            server.pages["/quiet"] = Page(page, etag=etag, last_modified=MODIFIED[etag])
        server.requests.clear()
        done = follow(root, T0 + timedelta(minutes=5 * poll))
        assert done.exit_code == 0, done.output
        assert "Error" not in done.output and "Traceback" not in done.output
        if poll in (1, 2, 4):  # the quiet page did not change: asked with its validators, 304
            (asked,) = server.asked("/quiet")
            assert asked["if-none-match"] == etag
            assert asked["if-modified-since"] == MODIFIED[etag]
            assert "quiet:" not in done.output
        harbour_stones = tombstones(out, "harbour")
        if poll < 3:  # missing once (poll 2) is not enough
            assert harbour_stones == []
            assert "retracted" not in done.output
        for slug in EXPECTED:
            for ident, (published, text) in entries(out, slug).items():
                before = seen[slug].setdefault(ident, (published, text, text))
                assert before[0] == published, f"{ident} moved in time"
                seen[slug][ident] = (published, before[1], text)  # edited: the id stays
        created = [line for line in done.stdout.splitlines() if ": created " in line]
        assert len(created) == (3 if poll == 0 else 0), done.output
    # Every update appeared under exactly one id, at its UTC time, over all the polls.
    for slug, expected in EXPECTED.items():
        firsts = {first: published for published, first, _ in seen[slug].values()}
        assert len(firsts) == len(seen[slug]) and firsts == expected, slug
    # The edit on the count page reached the feed, under the same id.
    turnout = next(i for i, (_, t, _) in seen["count"].items() if t.startswith("Turnout"))
    assert entries(out, "count")[turnout][1] == COUNT[4][1].partition(": ")[2]
    # The update taken off the harbour page is a tombstone, after its second missing poll;
    # its text is gone from the feed (at most a notice that it was withdrawn stays a while).
    gone = next(i for i, (_, t, _) in seen["harbour"].items() if t.startswith("Waves"))
    assert tombstones(out, "harbour") == [(gone, "Removed from the source page")]
    left = entries(out, "harbour").get(gone)
    assert left is None or "Waves" not in left[1]
    assert all(tombstones(out, slug) == [] for slug in ("count", "quiet"))
    assert len(entries(out, "count")) == 4  # 3:10 p.m. was missing once, twice, not in a row
    for slug in EXPECTED:
        for name in ("atom.xml", "rss.xml"):
            parsed = feedparser.parse((out / slug / name).read_bytes())
            assert parsed.bozo == 0
            ids = [e.id for e in parsed.entries]
            assert len(ids) == len(set(ids)) == len(entries(out, slug))
    state = json.loads((root.parent / ".feeds" / "follow.json").read_text())
    count = state["sources"][f"{server.base}/count"]
    assert count["anchors"]["u20250115-1510"] == 1 and count["failures"] == 0
    assert state["sources"][f"{server.base}/quiet"]["etag"] == "v2"
    # A sixth poll with nothing new (3:10 p.m. is back) is silent and builds nothing.
    server.pages["/count"] = Page(text_page("County count live", *COUNT[3]))
    assert follow(root, T0 + timedelta(minutes=25)).output == ""


def test_the_first_poll_creates_and_reports_each_story(
    server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    sources(
        root,
        server,
        {"url": "/harbour", "story": "harbour", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    server.pages["/harbour"] = Page(text_page("Harbour storm live", *HARBOUR[1]))
    done = follow(root, T0)
    assert done.exit_code == 0, done.output
    created, built = done.stdout.splitlines()  # a line per change, then the build's
    assert created == "harbour: created harbour with 3 updates"
    assert re.fullmatch(r"1 story changed, \d+ files written, 0 removed", built)
    assert done.stderr == ""
    (asked,) = server.asked("/harbour")
    assert asked["user-agent"] == f"feeds/{__version__} (live-blog follower; +{CONTACT})"
    assert asked["accept-encoding"] == "gzip"
    assert "if-none-match" not in asked and "if-modified-since" not in asked
    (robots,) = server.asked("/robots.txt")
    assert robots["user-agent"] == asked["user-agent"]


# --- manners -------------------------------------------------------------------------


def test_robots_txt_is_respected_and_kept_for_a_day(
    server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    server.pages["/robots.txt"] = Page("User-agent: *\nDisallow: /private/\n")
    server.pages["/private/live"] = Page(text_page("Private", *HARBOUR[0]))
    server.pages["/open"] = Page(text_page("Open", *HARBOUR[0]))
    sources(
        root,
        server,
        {"url": "/private/live", "story": "private", "timezone": "UTC", "date": "2025-01-15"},
        {"url": "/open", "story": "open", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    done = follow(root, T0)
    assert done.exit_code == 1
    (error,) = done.stderr.splitlines()
    assert error.startswith(f"Error: {server.base}/private/live: robots.txt does not allow feeds")
    assert "open: created open with 2 updates" in done.stdout  # the other page went on
    assert server.asked("/private/live") == []
    # Kept for a day: asked again only after it.
    follow(root, T0 + timedelta(hours=12))
    assert len(server.asked("/robots.txt")) == 1
    server.pages["/robots.txt"] = Page("User-agent: feeds\nDisallow: /nothing\n")
    done = follow(root, T0 + timedelta(days=1, minutes=1))
    assert len(server.asked("/robots.txt")) == 2
    assert done.exit_code == 0, done.output
    assert "private: created private with 2 updates" in done.stdout


def test_robots_txt_that_cannot_be_read_means_nothing_is_fetched(
    server: Server, make_store: StoreFactory
) -> None:
    """RFC 9309 2.3.1.4: a robots.txt answering 5xx disallows everything."""
    root = site(make_store)
    server.pages["/robots.txt"] = Page(status=503)
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    sources(
        root,
        server,
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    done = follow(root, T0)
    assert done.exit_code == 1
    assert f"Error: {server.base}/live: {server.base}/robots.txt cannot be read (HTTP 503)" in (
        done.stderr
    )
    assert server.asked("/live") == []


def test_a_server_error_backs_off(server: Server, make_store: StoreFactory) -> None:
    root = site(make_store)
    server.pages["/live"] = Page(status=500)
    sources(
        root,
        server,
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    done = follow(root, T0, "--interval", "10")
    assert done.exit_code == 1
    assert done.stderr == (
        f"Error: {server.base}/live: the server answered HTTP 500; next attempt "
        "2025-01-15T23:00:20Z (1 failure)\n"
    )
    assert follow(root, T0 + timedelta(seconds=10), "--interval", "10").output == ""
    assert len(server.asked("/live")) == 1  # not asked again before its next attempt
    done = follow(root, T0 + timedelta(seconds=20), "--interval", "10")
    assert "next attempt 2025-01-15T23:01:00Z (2 failures in a row)" in done.stderr  # 10 * 2**2
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    assert follow(root, T0 + timedelta(seconds=50), "--interval", "10").output == ""
    done = follow(root, T0 + timedelta(seconds=60), "--interval", "10")
    assert done.exit_code == 0 and "live: created live with 2 updates" in done.stdout
    state = json.loads((root.parent / ".feeds" / "follow.json").read_text())
    assert state["sources"][f"{server.base}/live"]["failures"] == 0
    assert len(server.asked("/live")) == 3


@pytest.mark.parametrize(
    ("status", "retry_after"), [(503, "120"), (429, "Wed, 15 Jan 2025 23:02:00 GMT")]
)
def test_retry_after_is_honoured(
    status: int, retry_after: str, server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    server.pages["/live"] = Page(status=status, headers={"Retry-After": retry_after})
    sources(
        root,
        server,
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    done = follow(root, T0, "--interval", "0")  # no backoff of its own: only Retry-After
    assert done.exit_code == 1 and "next attempt 2025-01-15T23:02:00Z" in done.stderr
    follow(root, T0 + timedelta(seconds=119), "--interval", "0")
    assert len(server.asked("/live")) == 1
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    done = follow(root, T0 + timedelta(seconds=120), "--interval", "0")
    assert done.exit_code == 0 and len(server.asked("/live")) == 2


def test_a_page_the_importer_cannot_read_is_a_failure_of_that_page_only(
    server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    server.pages["/empty"] = Page("Nothing here yet.\n")
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    sources(
        root,
        server,
        {"url": "/empty", "story": "empty", "date": "2025-01-15"},
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    done = follow(root, T0)
    assert done.exit_code == 1
    (error,) = done.stderr.splitlines()
    assert error.startswith("Error: ") and "next attempt" in error
    assert "live: created live" in done.stdout and (root.parent / "out" / "live").is_dir()


def test_gzip_is_asked_for_and_decoded(server: Server, make_store: StoreFactory) -> None:
    root = site(make_store)
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[1]), gzip=True)
    sources(
        root,
        server,
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    done = follow(root, T0)
    assert done.exit_code == 0 and "created live with 3 updates" in done.stdout


def test_decompressed_bytes_are_capped(server: Server) -> None:
    from feeds.errors import ImportProblem
    from feeds.importer.fetch import fetch

    server.pages["/bomb"] = Page("x" * 1_000_000, gzip=True)  # 1 MB from about 1 KB
    with pytest.raises(ImportProblem, match="larger than 100,000 bytes"):
        fetch(f"{server.base}/bomb", allow_hosts=("127.0.0.1",), max_bytes=100_000)
    small = fetch(f"{server.base}/bomb", allow_hosts=("127.0.0.1",), max_bytes=1_000_000)
    assert small.status == 200 and small.body == b"x" * 1_000_000
    assert server.asked("/bomb")[0]["accept-encoding"] == "gzip"


def test_feeds_import_still_asks_for_no_compression(server: Server) -> None:
    from feeds.importer.fetch import read_source

    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]), gzip=True)
    got = read_source(f"{server.base}/live", allow_hosts=("127.0.0.1",))
    assert got.text.startswith("Live")
    assert server.asked("/live")[0].get("accept-encoding", "identity") == "identity"


def test_fetch_keeps_the_address_guard(server: Server) -> None:
    from feeds.errors import ImportProblem
    from feeds.importer.fetch import fetch

    with pytest.raises(ImportProblem, match="not a public address"):
        fetch(f"{server.base}/live")
    assert server.requests == []


def test_one_request_at_a_time_per_host_with_a_gap(
    server: Server, make_store: StoreFactory
) -> None:
    root = make_store(
        SITE_TOML + f'import_allow_hosts = "127.0.0.1 localhost"\nfollow_contact = "{CONTACT}"\n'
    )
    for name in ("a", "b", "c"):
        server.pages[f"/{name}"] = Page(text_page(name, *HARBOUR[0]), gzip=True)
    local = server.base.replace("127.0.0.1", "localhost")
    sources(
        root,
        server,
        *[{"url": url, "story": name, "timezone": "Asia/Kolkata", "date": "2025-01-15"}
          for url, name in (("/a", "a"), ("/b", "b"), (f"{local}/c", "c"))],
    )  # fmt: skip
    done = follow(root, T0, "--gap", "0.3")
    assert done.exit_code == 0, done.output
    assert [line.split(":")[0] for line in done.stdout.splitlines()[:3]] == ["a", "b", "c"]
    loopback = sorted(span for span in server.spans if span[0] == "127.0.0.1")
    assert len(loopback) == 3  # robots.txt, /a, /b
    for (_, _, ended), (_, began, _) in zip(loopback, loopback[1:], strict=False):
        assert began - ended >= 0.25  # the gap, measured from the end of the last answer
    assert len([span for span in server.spans if span[0] == "localhost"]) == 2


# --- mistakes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        ('story = "s"', 5, "missing url"),
        ('url = "/live"', 5, "missing story"),
        ('url = "/live"\nstory = "Not A Slug"', 7, "not a valid story name"),
        ('url = "ftp://example.org/live"\nstory = "s"', 6, "must be an http(s) URL"),
        ('url = "/live"\nstory = "s"\nevry = 300', 8, "unknown key 'evry'"),
        ('url = "/live"\nstory = "s"\ntimezone = "Mars/Olympus"', 8, "unknown timezone"),
        ('url = "/live"\nstory = "s"\nevery = 10', 8, "every must be a whole number from 60"),
        ('url = "/live"\nstory = "s"\ndate = "15/01/2025"', 8, "date must be a day"),
        ('url = "/other"\nstory = "t"', 7, "story 't' is already followed (line 1)"),
        ('url = "/live"\nstory = "s"', 6, "is already followed (line 1)"),
    ],
)
def test_a_bad_sources_file_is_one_line_and_nothing_is_fetched(
    entry: str, line: int, message: str, server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    good = f'[[source]]\nurl = "{server.base}/live"\nstory = "t"\n\n'
    (root / "sources.toml").write_text(
        good + "[[source]]\n" + entry.replace('"/', f'"{server.base}/')
    )
    done = follow(root, T0)
    assert done.exit_code == 1
    (error,) = done.output.splitlines()
    assert error.startswith(f"Error: {root / 'sources.toml'}:{line}: "), error
    assert message in error
    assert server.requests == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no pages"),
        ("[[source]\n", "sources.toml:1: not valid TOML"),
        ('pages = 1\n[[source]]\nurl = "https://example.org/"\nstory = "s"\n', "unknown key"),
    ],
)
def test_a_sources_file_with_no_pages_or_bad_toml(
    text: str, message: str, make_store: StoreFactory
) -> None:
    root = site(make_store)
    (root / "sources.toml").write_text(text)
    done = follow(root, T0)
    assert done.exit_code == 1 and message in done.output
    assert len(done.output.splitlines()) == 1


def test_no_sources_file(make_store: StoreFactory, tmp_path: Path) -> None:
    root = site(make_store)
    done = follow(root, T0)
    assert done.exit_code == 1 and "sources.toml: no such file" in done.output
    elsewhere = tmp_path / "pages.toml"
    elsewhere.write_text('[[source]]\nurl = "https://example.org/live"\nstory = "s"\nevery = 1\n')
    done = follow(root, T0, "--sources", str(elsewhere))
    assert done.exit_code == 1 and "pages.toml:4: every must be" in done.output


def test_without_a_contact_follow_does_not_start(server: Server, make_store: StoreFactory) -> None:
    root = site(make_store, contact=None)
    sources(root, server, {"url": "/live", "story": "live"})
    done = follow(root, T0)
    assert done.exit_code == 1
    assert "set follow_contact in site.toml" in done.output and len(done.output.splitlines()) == 1
    assert server.requests == []


@pytest.mark.parametrize("contact", ["not a contact", "desk(at)news", "ftp://x.test/"])
def test_a_bad_contact_is_a_settings_error(
    contact: str, server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store, contact=contact)
    sources(root, server, {"url": "/live", "story": "live"})
    done = follow(root, T0)
    assert done.exit_code == 1 and "follow_contact" in done.output and "site.toml:" in done.output
    assert server.requests == []


def test_an_email_contact(server: Server, make_store: StoreFactory) -> None:
    root = site(make_store, contact="desk@news.test")
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    sources(
        root,
        server,
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    assert follow(root, T0).exit_code == 0
    agent = server.asked("/live")[0]["user-agent"]
    assert agent == f"feeds/{__version__} (live-blog follower; desk@news.test)"


@pytest.mark.parametrize(
    "damage", [b"{not json", b'{"sources": {"x": {"story": 3}}}', b"[]", b"\xff\xfe"]
)
def test_a_damaged_state_file_starts_afresh(
    damage: bytes, server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]), etag="v1")
    sources(
        root,
        server,
        {"url": "/live", "story": "live", "timezone": "Asia/Kolkata", "date": "2025-01-15"},
    )
    state = root.parent / ".feeds" / "follow.json"
    state.parent.mkdir()
    state.write_bytes(damage)
    done = follow(root, T0)
    assert done.exit_code == 0, done.output
    (warning,) = done.stderr.splitlines()
    assert warning.startswith("Warning: ") and "follow.json" in warning
    assert "starting afresh" in warning
    assert "created live with 2 updates" in done.stdout
    assert json.loads(state.read_text())["sources"][f"{server.base}/live"]["etag"] == "v1"


def test_one_follower_at_a_time(server: Server, make_store: StoreFactory) -> None:
    from feeds.build.lock import file_lock

    root = site(make_store)
    sources(root, server, {"url": "/live", "story": "live"})
    with file_lock(root.parent / ".feeds" / "follow.lock", 0, "feeds follow"):
        done = follow(root, T0)
    assert done.exit_code == 75 and "another feeds follow" in done.output
    assert server.requests == []


def test_an_update_that_scrolled_off_the_page_is_not_retracted(
    server: Server, make_store: StoreFactory
) -> None:
    """A page that shows only its newest updates drops the oldest ones: not removals."""
    root = site(make_store)
    sources(root, server, {"url": "/live", "story": "live", "timezone": "Asia/Kolkata",
                           "date": "2025-01-15"})  # fmt: skip
    pages = [HARBOUR[1], HARBOUR[1][:2], HARBOUR[1][:1], HARBOUR[1][:1]]
    for poll, updates in enumerate(pages):
        server.pages["/live"] = Page(text_page("Live", *updates))
        done = follow(root, T0 + timedelta(minutes=5 * poll))
        assert done.exit_code == 0 and "retracted" not in done.output
    assert tombstones(root.parent / "out", "live") == []


def test_an_update_added_by_hand_is_never_retracted(
    server: Server, make_store: StoreFactory
) -> None:
    root = site(make_store)
    sources(root, server, {"url": "/live", "story": "live", "timezone": "Asia/Kolkata",
                           "date": "2025-01-15"})  # fmt: skip
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[1]))
    assert follow(root, T0).exit_code == 0
    added = CliRunner(env={"FEEDS_NOW": "2025-01-15T23:01:00Z"}).invoke(
        cli, ["add", "live", "From our reporter.", "--at", "14:10", "--build", *where(root)]
    )
    assert added.exit_code == 0, added.output
    for poll in range(1, 4):
        assert "retracted" not in follow(root, T0 + timedelta(minutes=5 * poll)).output
    assert "From our reporter." in [t for _, t in entries(root.parent / "out", "live").values()]


# --- running as a service --------------------------------------------------------------


def test_the_loop_reads_sources_toml_again_when_it_changes(
    server: Server, make_store: StoreFactory
) -> None:
    from feeds import Workspace
    from feeds.follow import Cycle, following

    root = site(make_store)
    for name in ("a", "b"):
        server.pages[f"/{name}"] = Page(text_page(name, *HARBOUR[0]))
    entry = {"story": "a", "timezone": "Asia/Kolkata", "date": "2025-01-15"}
    sources(root, server, {"url": "/a", **entry})
    ws = Workspace.of(root, root.parent / "out")
    cycles: list[Cycle] = []
    logged: list[str] = []
    with following(ws, interval=0, gap=0, clock=lambda: T0) as (follower, warnings):

        def report(done: Cycle) -> None:
            cycles.append(done)
            if len(cycles) == 1:
                sources(root, server, {"url": "/a", **entry}, {"url": "/b", **entry, "story": "b"})
            else:
                follower.stop.set()

        follower.run(report, logged.append)
    assert warnings == []
    assert cycles[0].changes == ["a: created a with 2 updates"]
    assert cycles[1].changes == ["b: created b with 2 updates"]
    assert [line for line in logged if "read again" in line] == [
        f"{display_path(root / 'sources.toml')}: read again, 2 pages"
    ]


def test_sigterm_ends_the_loop_after_the_cycle(
    server: Server, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = site(make_store)
    server.pages["/live"] = Page(text_page("Live", *HARBOUR[0]))
    sources(root, server, {"url": "/live", "story": "live", "timezone": "Asia/Kolkata",
                           "date": "2025-01-15"})  # fmt: skip
    env = {"FEEDS_NOW": "2025-01-15T23:00:00Z", "PATH": "/usr/bin:/bin"}
    follower = subprocess.Popen(
        [sys.executable, "-m", "feeds", "follow", "--gap", "0", *where(root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()  # the first cycle's first line
        assert first.endswith("live: created live with 2 updates\n"), first
        follower.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = follower.communicate(timeout=10)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert time.monotonic() - started < 5
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("robots", "path", "allowed"),
    [
        ("User-agent: *\nDisallow: /\nAllow: /live/\n", "/live/storm", True),  # longest wins
        ("User-agent: *\nAllow: /live/\nDisallow: /\n", "/news/storm", False),
        ("User-agent: *\nDisallow: /live\nAllow: /live\n", "/live", True),  # a tie: allow
        ("User-agent: *\nDisallow: /*.txt$\n", "/live/page.txt", False),
        ("User-agent: *\nDisallow: /*.txt$\n", "/live/page.txt?x=1", True),
        ("User-agent: *\nDisallow: /\n\nUser-agent: FEEDS\nAllow: /\n", "/live", True),
        ("User-agent: feeds\nDisallow: /live/\n\nUser-agent: *\nDisallow:\n", "/live/a", False),
        ("User-agent: other\nDisallow: /\n", "/live", True),
        ("Disallow: /\n", "/live", True),  # a rule in no group
        ("User-agent: *\nDisallow: /live%2Fnight\n", "/live/night", True),
        ("User-agent: *\nDisallow: /caf%C3%A9\n", "/café", False),
        ("User-agent: *\nDisallow: /\n", "/robots.txt", True),
    ],
)
def test_robots_txt_is_read_as_rfc_9309_says(robots: str, path: str, allowed: bool) -> None:
    from feeds.follow.robots import Robots

    rules = Robots.parse(robots, "feeds")
    assert rules.allowed(f"https://news.test{path}") is allowed


def test_crawl_delay_of_our_group() -> None:
    from feeds.follow.robots import Robots

    text = "User-agent: *\nCrawl-delay: 2\n\nUser-agent: feeds\nCrawl-delay: 9\nAllow: /\n"
    assert Robots.parse(text, "feeds").delay == 9.0
    assert Robots.parse("User-agent: *\nCrawl-delay: soon\n", "feeds").delay is None
