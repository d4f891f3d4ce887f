"""Real feed clients for tests/test_clients.py: Debian's newsboat and rss2email,
each run headless in a temporary home of its own against `feeds serve` on 127.0.0.1.

Nothing leaves the machine: the clients get no proxy settings and only 127.0.0.1
URLs, and rss2email's "sendmail" is a script that keeps each message as a file.
"""

from __future__ import annotations

import configparser
import email
import email.policy
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple

import pytest
from lxml import html as lxml_html

from feeds import Workspace
from feeds.build import run_build

TIMEOUT = 60  # seconds for any one command; each finishes in well under one


def client(program: str, package: str) -> str:
    """The path of ``program``; skipped where it is missing, unless
    FEEDS_REQUIRE_CLIENTS=1 (as in CI) makes that a failure."""
    path = shutil.which(program)
    if path is None:
        if os.environ.get("FEEDS_REQUIRE_CLIENTS") == "1":
            pytest.fail(
                f"{program} is required (FEEDS_REQUIRE_CLIENTS=1): apt-get install {package}",
                pytrace=False,
            )
        pytest.skip(f"{program} not installed (Debian package {package})")
    return path


def client_env(home: Path) -> dict[str, str]:
    """A clean environment: a home of its own, UTF-8, and no proxy settings."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "NO_PROXY": "*",
        "no_proxy": "*",
    }


def paragraphs(html: str) -> list[str]:
    """The text of each <p> of an HTML fragment, whitespace collapsed."""
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    return [" ".join(p.text_content().split()) for p in root.iter("p")]


def words(text: str) -> str:
    return " ".join(text.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the site: a folder store, its builds, and `feeds serve` ---------------------------


class Site:
    """A folder store whose base_url is the 127.0.0.1 port `feeds serve` will listen on,
    so the feeds' links and feeds.opml point at the server the clients poll."""

    def __init__(self, root: Path, id_authority: str, stories: dict[str, str]) -> None:
        self.root = root
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.id_authority = id_authority
        self.out = root / "out"
        self.log = root / "serve.log"
        data = root / "data"
        data.mkdir(parents=True)
        (data / "site.toml").write_text(
            f'title = "Clients desk"\nbase_url = "{self.base_url}"\n'
            f'id_authority = "{id_authority}"\nauthor = "Clients desk"\n'
            'timezone = "Europe/Lisbon"\n',
            encoding="utf-8",
        )
        for slug, text in stories.items():
            (data / f"{slug}.md").write_text(text, encoding="utf-8")

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def guid(self, slug: str, anchor: str) -> str:
        return f"tag:{self.id_authority}:{slug}/{anchor}"

    def feeds(self, *args: str, now: str) -> str:
        """Run a `feeds` command in the site's folder at the clock time ``now``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDS_")}
        done = subprocess.run(
            [sys.executable, "-m", "feeds", *args],
            cwd=self.root,
            env={**env, "FEEDS_NOW": now},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def build(self, now: str) -> str:
        # No pause between builds: a replaced file is dated in a later whole second
        # than the one it replaces (feeds.publish.files), so Last-Modified moves with
        # every change and newsboat (libcurl's If-Modified-Since check) takes it.
        return self.feeds("build", now=now)

    def build_at_once(self, now: str) -> None:
        """A build in this process, with no pause before it: for what happens when
        builds come fast (a subprocess's start alone takes a tenth of a second)."""
        workspace = Workspace.of(self.root / "data", self.out)
        run_build(workspace, clock=lambda: datetime.fromisoformat(now))

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every output file with its bytes and mtime, to prove a build rewrote nothing."""
        return {
            str(p.relative_to(self.out)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(self.out.rglob("*"))
            if p.is_file()
        }

    @contextmanager
    def serve(self) -> Iterator[Site]:
        """`feeds serve` on the site's port, its Common Log Format log in serve.log."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDS_")}
        with self.log.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "feeds", "serve", "--data", "data", "--out", "out"]
                + ["--port", str(self.port)],
                cwd=self.root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    break
                except OSError:
                    assert proc.poll() is None, self.log.read_text()
                    assert time.monotonic() < deadline, "feeds serve did not start in 20 s"
                    time.sleep(0.05)
            yield self
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def requests(self) -> list[tuple[str, int]]:
        """(path, status) of every request the server has logged so far."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [
            (m[1], int(m[2]))
            for m in re.finditer(r'"(?:GET|HEAD) (\S+) HTTP/[\d.]+" (\d{3}) ', text)
        ]

    def requests_after(self, seen: int, count: int) -> list[tuple[str, int]]:
        """The ``count`` requests logged after the first ``seen`` (the server logs a
        request after answering it, so the client may have exited a moment before)."""
        deadline = time.monotonic() + 10
        while len(found := self.requests()[seen:]) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found


# --- newsboat ---------------------------------------------------------------------------


class Item(NamedTuple):
    """A row of newsboat's cache (rss_item), as newsboat stored it."""

    id: int
    guid: str
    title: str
    content: str
    unread: bool
    feedurl: str


class Newsboat:
    """One newsboat user: a home with a urls file, a config and a cache.db of its own.
    Driven with ``newsboat -x reload``; what it stored is read from its SQLite cache."""

    CONFIG = "download-timeout 20\ndownload-retries 1\nreload-threads 1\n"

    def __init__(self, program: str, home: Path, urls: list[str], config: str = "") -> None:
        self.program = program
        self.home = home
        home.mkdir(parents=True)
        self.urls = home / "urls"
        self.cache = home / "cache.db"
        self.config = home / "config"
        self.config.write_text(self.CONFIG + config, encoding="utf-8")
        self.urls.write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.program, "-u", str(self.urls), "-c", str(self.cache), "-C", str(self.config)]
            + list(args),
            env=client_env(self.home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def reload(self) -> None:
        self.run("-x", "reload")

    def import_opml(self, path: Path) -> None:
        self.run("-i", str(path))

    def subscriptions(self) -> list[str]:
        """The feed URLs of the urls file (each line's first word; tags follow it)."""
        lines = self.urls.read_text(encoding="utf-8").splitlines()
        return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]

    def unread_count(self) -> int:
        """What ``newsboat -x print-unread`` says."""
        out = self.run("-x", "print-unread")
        found = re.search(r"^(\d+) unread articles?$", out, flags=re.M)
        assert found, out
        return int(found[1])

    def items(self) -> list[Item]:
        with sqlite3.connect(f"file:{self.cache}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT id, guid, title, content, unread, feedurl FROM rss_item"
                " WHERE deleted = 0 ORDER BY id"
            ).fetchall()
        db.close()
        return [Item(i, g, t, c, bool(u), f) for i, g, t, c, u, f in rows]

    def dump(self) -> list[tuple[object, ...]]:
        """Everything newsboat keeps about items and feeds, to prove a reload changed nothing."""
        with sqlite3.connect(f"file:{self.cache}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT * FROM rss_item ORDER BY id").fetchall()
            rows += db.execute("SELECT * FROM rss_feed ORDER BY rssurl").fetchall()
        db.close()
        return rows

    def mark_all_read(self) -> None:
        """What a reader does with newsboat's mark-all-read, in the cache itself."""
        with sqlite3.connect(self.cache) as db:
            db.execute("UPDATE rss_item SET unread = 0")
        db.close()


# --- rss2email ----------------------------------------------------------------------------


class Rss2email:
    """One rss2email user: a config and data file of its own (``r2e -c CONFIG -d DATA``),
    mailing through a "sendmail" script that keeps each message as a file in ``mail/``."""

    TO = "reader@example.invalid"

    def __init__(self, program: str, home: Path, **settings: str) -> None:
        self.program = program
        self.home = home
        self.config = home / "r2e.cfg"
        self.data = home / "r2e.json"
        self.mail = home / "mail"
        self.mail.mkdir(parents=True)
        self.delivered = 0
        sendmail = home / "sendmail"
        sendmail.write_text(
            "#!/bin/sh\n"
            "# rss2email's sendmail: each message in a file of its own, numbered in order\n"
            f"dir={shlex.quote(str(self.mail))}\n"
            'n=$(ls "$dir" | wc -l)\n'
            'exec cat > "$dir/$(printf %04d $((n + 1))).eml"\n',
            encoding="utf-8",
        )
        sendmail.chmod(0o755)
        self.r2e("new", self.TO)
        # `new` writes every default into the config; change only how mail is sent
        # (and the fetch timeout), so everything else is rss2email's default.
        config = configparser.ConfigParser(interpolation=None)
        config.read(self.config, encoding="utf-8")
        config["DEFAULT"].update(
            {"email-protocol": "sendmail", "sendmail": str(sendmail), "feed-timeout": "20"}
        )
        config["DEFAULT"].update(settings)
        with self.config.open("w", encoding="utf-8") as f:
            config.write(f)

    def r2e(self, *args: str) -> str:
        done = subprocess.run(
            [self.program, "-c", str(self.config), "-d", str(self.data), *args],
            env=client_env(self.home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout + done.stderr

    def add(self, name: str, url: str) -> None:
        self.r2e("add", name, url)

    def opmlimport(self, path: Path) -> None:
        self.r2e("opmlimport", str(path))

    def feed_urls(self) -> list[str]:
        """The URL of every feed in rss2email's list."""
        return re.findall(r"\((\S+) -> ", self.r2e("list"))

    def run(self) -> list[EmailMessage]:
        """``r2e run``, and the messages it mailed."""
        self.r2e("run")
        files = sorted(self.mail.iterdir())
        new, self.delivered = files[self.delivered :], len(files)
        return [
            email.message_from_bytes(
                f.read_bytes(), _class=EmailMessage, policy=email.policy.default
            )
            for f in new
        ]
