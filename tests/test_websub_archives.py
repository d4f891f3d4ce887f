"""WebSub pings to a hub stub, and RFC 5005 archives followed by a real parser."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cli import cli
from feeds.websub import ping

from .conftest import SITE_TOML, StoreFactory, story
from .feedcheck import check_atom, check_rss


@pytest.fixture
def hub() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    pings: list[dict[str, list[str]]] = []

    class Hub(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            pings.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub", pings
    server.shutdown()
    server.server_close()


def build(root: Path, tmp_path: Path, now: str = "2024-06-02T00:00:00Z"):  # type: ignore[no-untyped-def]
    return CliRunner(env={"FEEDS_NOW": now}).invoke(
        cli, ["build", "--data", str(root), "--out", str(tmp_path / "out")], catch_exceptions=False
    )


def test_a_build_that_changed_feeds_pings_the_hub(
    hub: tuple[str, list[dict[str, list[str]]]], make_store: StoreFactory, tmp_path: Path
) -> None:
    url, pings = hub
    root = make_store(
        site=SITE_TOML + f'websub_hub = "{url}"\n', s=story(body="## 2024-06-01 09:00\n\nx")
    )
    assert build(root, tmp_path).exit_code == 0
    told = sorted(p["hub.url"][0] for p in pings)
    assert all(p["hub.mode"] == ["publish"] for p in pings)
    assert told == sorted(
        f"https://news.test/live/{n}"
        for n in ("atom.xml", "feed.json", "rss.xml", "s/atom.xml", "s/feed.json", "s/rss.xml")
    )
    for name in ("s/atom.xml", "s/rss.xml"):
        links = etree.fromstring((tmp_path / "out" / name).read_bytes()).iter(
            "{http://www.w3.org/2005/Atom}link"
        )
        assert {(lk.get("rel"), lk.get("href")) for lk in links} >= {("hub", url)}
    pings.clear()
    assert build(root, tmp_path).output == ""  # nothing changed: nobody to tell
    assert pings == []


def test_a_hub_that_is_down_does_not_break_the_build(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(
        site=SITE_TOML + 'websub_hub = "http://127.0.0.1:9/hub"\n',
        s=story(body="## 2024-06-01 09:00\n\nx"),
    )
    result = build(root, tmp_path)
    assert result.exit_code == 0
    assert "WebSub hub http://127.0.0.1:9/hub was not told that" in result.output
    assert (tmp_path / "out" / "s" / "atom.xml").exists()


def test_ping_retries_then_reports() -> None:
    naps: list[float] = []
    failures = ping("http://127.0.0.1:9/hub", ["https://x.test/a.xml"], sleep=naps.append)
    assert naps == [0.5, 1.0] and len(failures) == 1


N = 3


@pytest.mark.parametrize("fmt", ["atom.xml", "rss.xml"])
def test_archives_hold_every_update_exactly_once(
    fmt: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    site = SITE_TOML + f"items_per_feed = {N}\n"
    body = "\n\n".join(
        f"## 2024-06-01 {h:02d}:00 {{#h{h}}}\n\nUpdate {h}." for h in range(3 * N, 0, -1)
    )
    root = make_store(site=site, s=story(body=body))
    assert build(root, tmp_path).exit_code == 0
    out = tmp_path / "out" / "s"
    current = feedparser.parse((out / fmt).read_bytes())
    assert current.bozo == 0
    assert [e.id.rpartition("/")[2] for e in current.entries] == ["h9", "h8", "h7"]

    seen = [e.id for e in current.entries]
    link = next(lk.href for lk in current.feed.links if lk.rel == "prev-archive")
    pages = 0
    while link:
        data = (out / link.rpartition("/")[2]).read_bytes()
        (check_atom if fmt == "atom.xml" else check_rss)(data)
        assert b"<fh:archive/>" in data
        page = feedparser.parse(data)
        assert page.bozo == 0 and len(page.entries) == N
        assert {lk.rel: lk.href for lk in page.feed.links}["current"].endswith(f"/s/{fmt}")
        seen += [e.id for e in page.entries]
        link = next((lk.href for lk in page.feed.links if lk.rel == "prev-archive"), None)
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(f"tag:news.test,2024:s/h{h}" for h in range(1, 3 * N + 1))
    assert len(seen) == len(set(seen))


def test_full_archive_pages_are_not_rewritten(make_store: StoreFactory, tmp_path: Path) -> None:
    site = SITE_TOML + f"items_per_feed = {N}\n"
    body = "\n\n".join(
        f"## 2024-06-01 {h:02d}:00 {{#h{h}}}\n\nUpdate {h}." for h in range(2 * N, 0, -1)
    )
    root = make_store(site=site, s=story(body=body))
    build(root, tmp_path)
    first = tmp_path / "out" / "s" / "archive-1-atom.xml"
    body = f"## 2024-06-01 20:00 {{#h20}}\n\nNew.\n\n{body}"
    (root / "s.md").write_text(story(body=body))
    build(root, tmp_path)  # a second page appears; the first gains its next-archive link
    stamp = first.stat().st_mtime_ns
    (root / "s.md").write_text(story(body=f"## 2024-06-01 21:00 {{#h21}}\n\nNewer.\n\n{body}"))
    result = CliRunner(env={"FEEDS_NOW": "2024-06-02T00:00:00Z"}).invoke(
        cli, ["build", "-v", "--data", str(root), "--out", str(tmp_path / "out")]
    )
    assert "s/archive-2-atom.xml" in result.output  # the partial page grew
    assert first.stat().st_mtime_ns == stamp  # the full one did not change
