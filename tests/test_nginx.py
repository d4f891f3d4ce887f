"""deploy/nginx-feeds.conf in a real nginx on 127.0.0.1: what browsers and readers get.

Needs Debian's nginx (`.ci/run` installs nginx-light); skipped without it unless
FEEDS_REQUIRE_NGINX=1 (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from .conftest import EXAMPLE_DATA, REPO
from .conftest import run_folder as run_build

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None
)
if NGINX is None and os.environ.get("FEEDS_REQUIRE_NGINX") == "1":
    raise RuntimeError("nginx is required (FEEDS_REQUIRE_NGINX=1) but not installed")
pytestmark = pytest.mark.skipif(NGINX is None, reason="Debian package nginx not installed")

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8"
FEEDPARSER = (
    "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,"
    "application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("nginx")
    out = root / "out"
    run_build(EXAMPLE_DATA, out, root / "state")
    port = _free_port()
    site = (REPO / "deploy" / "nginx-feeds.conf").read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("root /srv/news/out;", f"root {out};")
    (root / "site.conf").write_text(site)
    mime = next(
        p for p in ("/etc/nginx/mime.types", "/usr/share/nginx/mime.types") if Path(p).exists()
    )
    (root / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + "events {}\n"
        + f"http {{\n  include {mime};\n  access_log off;\n  client_body_temp_path {root};\n"
        f"  proxy_temp_path {root};\n  fastcgi_temp_path {root};\n  uwsgi_temp_path {root};\n"
        f"  scgi_temp_path {root};\n  include {root}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],  # type: ignore[list-item]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/", out
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, b""


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("rss.xml", "application/rss+xml"),
        ("atom.xml", "application/atom+xml"),
        ("feed.json", "application/feed+json"),
    ],
)
def test_browsers_get_the_feed_page_and_readers_the_feed(
    nginx: tuple[str, Path], name: str, media_type: str
) -> None:
    base, out = nginx
    for accept in (FEEDPARSER, "*/*", "application/rss+xml, text/html;q=0.5"):
        status, headers, body = _get(f"{base}kazerun/{name}", Accept=accept)
        assert status == 200 and body == (out / "kazerun" / name).read_bytes(), accept
        assert headers["content-type"].startswith(media_type)
        assert "Accept" in headers["vary"]
    status, headers, body = _get(f"{base}kazerun/{name}", Accept=BROWSER)
    assert status == 200 and body == (out / "kazerun" / "feed.html").read_bytes()
    assert headers["content-type"].startswith("text/html") and "Accept" in headers["vary"]
    etag = headers["etag"]
    assert _get(f"{base}kazerun/{name}", Accept=BROWSER, If_None_Match=etag)[0] == 304


def test_a_reader_polls_cheaply_and_hidden_files_are_not_served(nginx: tuple[str, Path]) -> None:
    base, out = nginx
    feed = feedparser.parse(f"{base}atom.xml")
    assert feed.bozo == 0 and feed.status == 200
    again = feedparser.parse(f"{base}atom.xml", etag=feed.etag, modified=feed.modified)
    assert again.status == 304
    (out / ".staging.tmp").write_text("half a file")
    assert _get(f"{base}.staging.tmp")[0] == 404
    assert _get(f"{base}feed.css")[1]["content-type"].startswith("text/css")
