"""`feeds serve` on 127.0.0.1, exercised with a real HTTP client (http.client)."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from .conftest import EXAMPLE_DATA

NOW = "2026-01-01T00:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feeds",
                "serve",
                "--data",
                str(root / "data"),
                "--out",
                str(root / "out"),
                "--port",
                str(self.port),
                *args,
            ],
            cwd=root,
            env={**os.environ, "FEEDS_NOW": NOW},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.proc.poll() is None, self.proc.communicate()
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def request(
        self, path: str, method: str = "GET", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE_DATA, tmp_path / "data")
    subprocess.run(
        [sys.executable, "-m", "feeds", "build"],
        cwd=tmp_path,
        check=True,
        env={**os.environ, "FEEDS_NOW": NOW},
    )
    return tmp_path


@pytest.fixture
def server(site: Path) -> Iterator[Server]:
    s = Server(site)
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_200_with_validators_and_types(server: Server) -> None:
    status, headers, body = server.request("/kazerun/rss.xml")
    assert status == 200
    assert body == (server.root / "out" / "kazerun" / "rss.xml").read_bytes()
    assert re.fullmatch(r'"[0-9a-f]{24}"', headers["etag"])  # strong
    assert headers["last-modified"].endswith(" GMT")
    assert headers["cache-control"] == "max-age=60"
    assert headers["vary"] == "Accept-Encoding, Accept"
    assert headers["content-type"] == "application/rss+xml; charset=utf-8"
    types = {
        "/kazerun/atom.xml": "application/atom+xml; charset=utf-8",
        "/kazerun/feed.json": "application/feed+json; charset=utf-8",
        "/": "text/html; charset=utf-8",
        "/index.html": "text/html; charset=utf-8",
        "/feeds.opml": "text/xml; charset=utf-8",
    }
    for path, kind in types.items():
        status, headers, _ = server.request(path)
        assert (status, headers["content-type"]) == (200, kind), path


def test_304_with_either_validator(server: Server) -> None:
    _, first, _ = server.request("/rss.xml")
    etag, modified = first["etag"], first["last-modified"]
    status, headers, body = server.request("/rss.xml", If_None_Match=etag)
    assert (status, body, headers["etag"]) == (304, b"", etag)
    assert server.request("/rss.xml", If_None_Match=f'"other", W/{etag}')[0] == 304
    assert server.request("/rss.xml", If_Modified_Since=modified)[0] == 304
    assert server.request("/rss.xml", If_Modified_Since=formatdate(0, usegmt=True))[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    assert server.request("/rss.xml", If_None_Match='"stale"', If_Modified_Since=modified)[0] == 200


def test_new_update_new_etag_and_unchanged_files_keep_theirs(server: Server) -> None:
    _, before_k, _ = server.request("/kazerun/rss.xml")
    _, before_v, _ = server.request("/vila-mares-storm/rss.xml")
    env = {**os.environ, "FEEDS_NOW": NOW}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "feeds",
            "add",
            "kazerun",
            "Roads reopened.",
            "--at",
            "2018-05-17 03:00",
            "--build",
        ],
        cwd=server.root,
        env=env,
        check=True,
    )
    status, after, body = server.request("/kazerun/rss.xml", If_None_Match=before_k["etag"])
    assert status == 200 and after["etag"] != before_k["etag"]
    assert b"Roads reopened." in body
    assert server.request("/vila-mares-storm/rss.xml", If_None_Match=before_v["etag"])[0] == 304


def test_gzip_when_asked(server: Server) -> None:
    _, plain, body = server.request("/atom.xml")
    status, headers, zipped = server.request("/atom.xml", Accept_Encoding="gzip, deflate")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped) == body
    assert headers["vary"] == "Accept-Encoding, Accept"
    assert headers["etag"] != plain["etag"]  # another representation, another strong ETag
    assert (
        server.request("/atom.xml", Accept_Encoding="gzip", If_None_Match=headers["etag"])[0] == 304
    )
    assert "content-encoding" not in server.request("/atom.xml", Accept_Encoding="gzip;q=0")[1]


def test_head(server: Server) -> None:
    _, get_headers, body = server.request("/kazerun/atom.xml")
    status, headers, nobody = server.request("/kazerun/atom.xml", method="HEAD")
    assert (status, nobody) == (200, b"")
    assert headers["etag"] == get_headers["etag"]
    assert headers["content-length"] == str(len(body))


def test_nothing_outside_out_can_be_read(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    (server.root / "out" / "leak.txt").symlink_to(secret)
    (server.root / "out" / "leakdir").symlink_to(tmp_path)
    (server.root / "out" / ".rss.xml.abc.tmp").write_text("half")
    attempts = [
        "/../data/site.toml",
        "/kazerun/../../data/site.toml",
        "/%2e%2e/data/site.toml",
        "/%2E%2E/%2e%2e/etc/passwd",
        "/kazerun/%2e%2e/%2e%2e/data/site.toml",
        "/..%2fdata/site.toml",
        "//etc/passwd",
        "/etc/passwd",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/.rss.xml.abc.tmp",
        "/nope.xml",
        "/kazerun/%00rss.xml",
    ]
    for path in attempts:
        status, _, body = server.request(path)
        assert status in (400, 404), (path, status)
        assert b"do not serve" not in body and b"title =" not in body
    assert server.request("/rss.xml", method="POST")[0] == 405
    assert server.request("/kazerun")[0] == 301


def test_watch_rebuilds_and_serves_the_new_update(site: Path) -> None:
    server = Server(site, "--watch")
    try:
        env = {**os.environ, "FEEDS_NOW": NOW}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "feeds",
                "add",
                "kazerun",
                "Watched update.",
                "--at",
                "2018-05-17 03:05",
            ],
            cwd=site,
            env=env,
            check=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b"Watched update." in server.request("/kazerun/atom.xml")[2]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the new update was not served within 10 s")
    finally:
        code, err = server.stop()
    assert code == 0
    assert re.search(r"^1 story changed, \d+ files written, 0 removed$", err, flags=re.M), err


def test_clean_shutdown_and_common_log_format(server: Server) -> None:
    server.request("/rss.xml")
    code, err = server.stop()
    assert code == 0
    assert re.search(
        r"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
        r'"GET /rss\.xml HTTP/1\.1" 200 \d+$',
        err,
        flags=re.M,
    ), err


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8"
FEEDPARSER = (
    "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,"
    "application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1"
)


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_browsers_get_the_feed_page_and_readers_the_feed(server: Server, name: str) -> None:
    """Same URL, Vary: Accept: a person who clicks a feed link sees feed.html (rendered at
    build time, no XSLT); feed readers, whatever they send, get the feed's bytes."""
    feed = (server.root / "out" / "kazerun" / name).read_bytes()
    page = (server.root / "out" / "kazerun" / "feed.html").read_bytes()
    for accept in (FEEDPARSER, "*/*", "", "application/rss+xml, text/html;q=0.5"):
        _, reader, body = server.request(f"/kazerun/{name}", Accept=accept)
        assert body == feed and reader["content-type"].startswith(("application/rss+xml",
            "application/atom+xml", "application/feed+json")), accept  # fmt: skip
        assert "Accept" in reader["vary"]
    status, browser, shown = server.request(f"/kazerun/{name}", Accept=BROWSER)
    assert (status, browser["content-type"]) == (200, "text/html; charset=utf-8")
    assert shown == page and "Accept" in browser["vary"]
    assert browser["etag"] != reader["etag"]
    assert (
        server.request(f"/kazerun/{name}", Accept=BROWSER, If_None_Match=browser["etag"])[0] == 304
    )


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip;q=abc", False),
        ("gzip;Q=0", False),
        ("gzip;level=1;q=0", False),
        ("*;q=0, gzip", True),
        ("identity", False),
        ("*", True),
    ],
)
def test_accept_encoding_edge_cases(server: Server, header: str, gzipped: bool) -> None:
    status, headers, _ = server.request("/atom.xml", Accept_Encoding=header)
    assert status == 200
    assert (headers.get("content-encoding") == "gzip") is gzipped


def test_redirects_stay_on_site_and_files_are_not_folders(server: Server) -> None:
    status, headers, _ = server.request("//kazerun")
    assert (status, headers["location"]) == (301, "/kazerun/")
    assert server.request("/kazerun?x=1")[1]["location"] == "/kazerun/?x=1"
    assert server.request("/rss.xml/")[0] == 404


def test_a_busy_port_is_a_clear_error(server: Server) -> None:
    busy = subprocess.run(
        [
            sys.executable,
            "-m",
            "feeds",
            "serve",
            "--out",
            str(server.root / "out"),
            "--port",
            str(server.port),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert busy.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in busy.stderr
    assert "Traceback" not in busy.stderr


def test_a_visible_link_to_a_hidden_file_is_not_served(server: Server) -> None:
    out = server.root / "out"
    (out / ".staged.tmp").write_text("half a feed")
    (out / "visible.xml").symlink_to(out / ".staged.tmp")
    (out / "kazerun" / "alias.xml").symlink_to("../.staged.tmp")
    for path in ("/visible.xml", "/kazerun/alias.xml"):
        status, _, body = server.request(path)
        assert status == 404 and b"half" not in body, path


def test_if_modified_since_with_an_unknown_zone_is_utc(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 5322's "-0000" means UTC with the source's zone unknown, not the server's zone
    (a server in Auckland read it 13 hours off)."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    server = Server(site)
    try:
        status, headers, _ = server.request("/rss.xml")
        last = headers["last-modified"]  # "Wed, 02 Dec 2026 11:20:00 GMT"
        unknown_zone = last.replace("GMT", "-0000")
        assert server.request("/rss.xml", If_Modified_Since=unknown_zone)[0] == 304
    finally:
        server.stop()


def test_a_malformed_request_is_one_line_in_the_log(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.0 400")
    code, err = server.stop()
    assert code == 0
    assert "Traceback" not in err
    assert "400 Invalid character in Content-Length" in err
