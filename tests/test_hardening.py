"""No input may break a feed: characters XML forbids, and offsets RFC 3339 cannot write."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cli import cli
from feeds.errors import ImportProblem
from feeds.render.atom import atom_feed
from feeds.render.rss import rss_feed
from feeds.timeutil import rfc822, rfc3339

from .conftest import SITE_TOML, StoreFactory, publish_store, render_store, snapshot_tree, story
from .feedcheck import check_atom

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")


@pytest.mark.parametrize(
    "ref", ["&#x1;", "&#x0B;", "&#xFFFE;", "&#11;", "&#x0c;", "&#x1F;", "&#65535;"]
)
@pytest.mark.parametrize("where", ["raw html", "markdown", "background"])
def test_a_reference_to_a_forbidden_character_is_an_error_at_its_line(
    ref: str, where: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    text = {
        "raw html": f"## 2024-06-01 10:00 — One {{#one}}\n\n<div>first\nsecond {ref} x</div>\n",
        "markdown": f"## 2024-06-01 10:00 — One {{#one}}\n\nfirst\nsecond {ref} x\n",
        "background": f"first\nsecond {ref} x\n\n## 2024-06-01 10:00 — One {{#one}}\n\nText.\n",
    }[where]
    root = make_store(a=story(body=text))
    line = (root / "a.md").read_text().splitlines().index(
        next(ln for ln in (root / "a.md").read_text().splitlines() if ref in ln)
    ) + 1
    before = snapshot_tree(root)
    done = CliRunner().invoke(
        cli,
        [
            "build",
            "--data",
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--now",
            "2024-07-01T00:00:00Z",
        ],
    )
    if done.exit_code == 0:  # the Markdown renderer replaced it: then every feed parses
        assert where != "raw html", done.output  # raw HTML keeps what it decodes
        for path in (tmp_path / "out").rglob("*.xml"):
            etree.parse(str(path))
        return
    assert done.exit_code == 1, done.output
    assert f"a.md:{line}: {ref} stands for a control character" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "out").exists()
    assert snapshot_tree(root) == before


def test_feeds_add_refuses_such_a_reference_and_changes_nothing(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(a=story(body="## 2024-06-01 10:00 — One {#one}\n\nText.\n"))
    before = snapshot_tree(root)
    done = CliRunner().invoke(
        cli,
        ["add", "a", "<div>bell &#x7;</div>", "--data", str(root), "--at", "2024-06-01 11:00"],
    )
    assert done.exit_code == 1, done.output
    assert "&#x7; stands for a control character" in done.output
    assert snapshot_tree(root) == before


def test_the_renderers_refuse_a_model_holding_such_characters(make_store: StoreFactory) -> None:
    """A library caller building models by hand gets an error, not a feed no parser reads."""
    from feeds.build.folder import story_folder
    from feeds.render.formats import FORMATS

    root = make_store(a=story(body="## 2024-06-01 10:00 — One {#one}\n\nText.\n"))
    reconciled = publish_store(root)
    folder = story_folder(reconciled.site, reconciled.stories[0])
    update = replace(folder.feed.entries[0], title="bell \x07")
    feed = replace(folder.feed, entries=(update,))
    for fmt in FORMATS:
        if fmt.document in (atom_feed, rss_feed):
            with pytest.raises(ValueError, match="U\\+0007 cannot be written in XML"):
                fmt.render(feed, "https://news.test/live/a/x.xml")


def test_check_fails_when_an_output_file_does_not_parse(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(a=story(body="## 2024-06-01 10:00 — One {#one}\n\nText.\n"))
    out = tmp_path / "out"
    args = ["--data", str(root), "--out", str(out)]
    env = {"FEEDS_NOW": "2024-07-01T00:00:00Z"}
    assert CliRunner().invoke(cli, ["build", *args], env=env).exit_code == 0
    atom = out / "a" / "atom.xml"
    atom.write_bytes(atom.read_bytes().replace(b"Text.", b"Text\x01."))
    done = CliRunner().invoke(cli, ["check", *args], env=env)
    assert done.exit_code == 1
    assert "atom.xml:" in done.output and "not well-formed XML" in done.output


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("Africa/Monrovia", "1970-06-01 12:00", datetime(1970, 6, 1, 12, 44, 30, tzinfo=UTC)),
        ("Europe/Amsterdam", "1930-06-01 12:00", datetime(1930, 6, 1, 10, 40, 28, tzinfo=UTC)),
    ],
)
def test_offsets_with_seconds_are_written_as_rfc_3339_and_822_allow(
    zone: str, local: str, utc: datetime, make_store: StoreFactory
) -> None:
    body = f"## {local} — Old news {{#old}}\n\nHistory."
    root = make_store(a=story(f'title = "A"\ntimezone = "{zone}"', body))
    files = render_store(root)
    atom = check_atom(files["a/atom.xml"])
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for value in atom.xpath("//a:published/text() | //a:updated/text()", namespaces=ns):
        assert RFC3339.match(value), value
    published = atom.xpath("//a:entry/a:published/text()", namespaces=ns)[0]
    assert datetime.fromisoformat(published) == utc  # the instant is exact
    json_dates = re.findall(rb'"date_published": "([^"]+)"', files["a/feed.json"])
    assert json_dates and all(RFC3339.match(d.decode()) for d in json_dates)
    pub_date = re.search(rb"<pubDate>([^<]+)</pubDate>", files["a/rss.xml"])
    assert pub_date is not None
    from email.utils import parsedate_to_datetime

    assert parsedate_to_datetime(pub_date[1].decode()) == utc
    page = files["a/index.html"].decode()
    for value in re.findall(r'datetime="([^"]+)"', page):
        assert RFC3339.match(value), value
    assert rfc3339(utc) == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rfc822(utc).endswith("+0000")


UPDATE = "## 2026-10-24 22:00 — Fire reported {#fire}\n\nSmoke over the hills.\n\n"


def _build(root: Path, out: Path) -> Any:
    args = ["build", "--data", str(root), "--out", str(out)]
    return CliRunner().invoke(cli, args, env={"FEEDS_NOW": "2026-11-01T00:00:00Z"})


@pytest.mark.parametrize(
    "heading",
    [
        "## 2026-1024 23:00 — Evacuation {#evacuation}",
        "## 20261024 23:00",
        "## 2026-1O-24 23:00 — Letter O for zero",
        "## Sat 24 Oct 23:00",
        "## 24/10 at 23:00",
        "## Evacuation {#evacuation}",
    ],
)
def test_a_mistyped_update_heading_is_an_error_not_text(
    heading: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    """Read as text, it would take a published update out of every feed (exit 0)."""
    root = make_store(a=story(body=UPDATE + heading + "\n\nRoads closed.\n"))
    done = _build(root, tmp_path / "out")
    assert done.exit_code == 1, done.output
    assert "a.md:9:" in done.output
    assert "does not start with a date and time" in done.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tag", ["pre", "script", "textarea", "div"])
def test_an_update_heading_inside_a_raw_html_block_is_an_error(
    tag: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    block = f"<{tag}>\nSome text\n## 2026-10-24 23:00 — Hidden {{#hidden}}\n</{tag}>\n"
    root = make_store(a=story(body=UPDATE + block))
    done = _build(root, tmp_path / "out")
    assert done.exit_code == 1, done.output
    assert "a.md:11: this update heading is inside the HTML block opened on line 9" in done.output


@pytest.mark.parametrize(
    "text",
    [
        "## Background\n\nWhat came before.",  # a level-2 heading without a time: text
        "### Timeline of the night\n\nA subheading.",  # level 3 in an update's text
        "```\n## 2026-10-24 23:00 — In a code example {#code}\n```",  # closed code fence
    ],
)
def test_what_is_still_text(text: str, make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(a=story(body=UPDATE + text + "\n"))
    done = _build(root, tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "a" / "atom.xml").read_bytes().count(b"<entry>") == 1


def _one_clean_line(output: str) -> None:
    assert "Traceback" not in output
    errors = [ln for ln in output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, output


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["build", "--now", "9999-12-31T23:59:59-23:59"], {}, "years run 1900-2199"),
        (["build"], {"FEEDS_NOW": "0001-01-01T00:00:00+23:00"}, "FEEDS_NOW"),
    ],
)
def test_clock_values_out_of_range_are_usage_errors(
    args: list[str], env: dict[str, str], expected: str, example_data: Path, tmp_path: Path
) -> None:
    done = CliRunner().invoke(
        cli, [*args, "--data", str(example_data), "--out", str(tmp_path / "out")], env=env
    )
    assert done.exit_code == 2, done.output
    assert expected in done.output and "Traceback" not in done.output
    assert not (tmp_path / "out").exists()
    assert not any((example_data.parent / ".feeds").glob("staging"))


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("created = 9999-12-31T23:59:59-23:59", "created: years run 1900-2199"),
        ("created = 1000-01-01T00:00:00Z", "created: years run 1900-2199"),
        ("deep = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_front_matter_beyond_what_can_be_read_is_an_error(
    front: str, expected: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(a=story(f'title = "A"\n{front}', "## 2024-06-01 10:00 {#a}\n\nText."))
    done = CliRunner().invoke(cli, ["build", "--data", str(root), "--out", str(tmp_path / "o")])
    assert done.exit_code == 1, done.output
    assert "a.md:" in done.output and expected in done.output
    _one_clean_line(done.output)


def test_text_that_is_not_utf8_is_refused(make_store: StoreFactory, tmp_path: Path) -> None:
    import subprocess
    import sys

    root = make_store(a=story(body="## 2024-06-01 10:00 {#a}\n\nText."))
    before = snapshot_tree(root)
    command = [sys.executable, "-m", "feeds", "add", "a", "--data", str(root)]
    done = subprocess.run(
        [*command, b"caf\xe9".decode(errors="surrogateescape")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "argument 5 is not UTF-8 text (byte 0xe9)" in done.stderr
    _one_clean_line(done.stderr)
    done = subprocess.run([*command, "-"], input=b"caf\xe9", capture_output=True)
    assert done.returncode == 1
    assert b"standard input is not UTF-8 text (byte 0xe9 at offset 3)" in done.stderr
    assert snapshot_tree(root) == before


PAGE = (
    "<html><body><h2>10:00 — Storm</h2><p>Wind.</p><h2>11:00 — Rain</h2><p>Rain.</p></body></html>"
)


@pytest.mark.parametrize(
    ("page", "extra", "expected"),
    [
        (b"", [], "not an HTML page that can be read"),
        (
            b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
            + PAGE.encode()[6:],
            ["--date", "2024-01-01", "--timezone", "UTC"],
            None,
        ),
        (
            b'<html><head><meta charset="punycode"></head>' + PAGE.encode()[6:],
            [],
            "not a character encoding of web pages",
        ),
        (
            b'<html><body><article><time datetime="9999-12-31T23:59:59-23:59">x</time>'
            b"<p>Something.</p></article></body></html>",
            ["--timezone", "UTC"],
            "years run 1900-2199",
        ),
        (PAGE.encode(), ["--date", "2024-01-01", "--timezone", "Mars/Olympus"], "unknown timezone"),
    ],
)
def test_pages_the_importer_cannot_read_are_one_line_errors(
    page: bytes,
    extra: list[str],
    expected: str | None,
    make_store: StoreFactory,
    tmp_path: Path,
) -> None:
    root = make_store()
    before = snapshot_tree(root)
    source = tmp_path / "page.html"
    source.write_bytes(page)
    done = CliRunner().invoke(
        cli, ["import", str(source), "--story", "s", "--data", str(root), "--dry-run", *extra]
    )
    if expected is None:  # read: an XHTML page with its XML declaration
        assert done.exit_code == 0, done.output
        return
    assert done.exit_code == 1, done.output
    assert expected in done.output
    _one_clean_line(done.output)
    assert snapshot_tree(root) == before


def test_a_url_that_cannot_be_parsed_is_an_import_error(make_store: StoreFactory) -> None:
    root = make_store()
    done = CliRunner().invoke(cli, ["import", "http://[::1", "--story", "s", "--data", str(root)])
    assert done.exit_code == 1 and "not a valid URL" in done.output
    _one_clean_line(done.output)


# --- the importer fetches only from public addresses ----------------------------


class _Pages:
    """A local HTTP server whose paths answer as the test says (to 127.0.0.1 only)."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes, float]]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body, drip = routes.get(self.path, (404, {}, b"", 0.0))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in [body[i : i + 1] for i in range(len(body))] if drip else [body]:
                    try:
                        self.wfile.write(byte)
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(drip)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.routes = routes  # what the handler answers: tests add to it
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def pages() -> Iterator[_Pages]:
    server = _Pages({})
    yield server
    server.close()


def _import(root: Path, url: str) -> Any:
    return CliRunner().invoke(
        cli,
        ["import", url, "--story", "s", "--data", str(root), "--date", "2024-01-01",
         "--timezone", "UTC"],
    )  # fmt: skip


def test_loopback_and_private_addresses_are_refused_unless_allowed(
    pages: _Pages, make_store: StoreFactory
) -> None:
    pages.routes["/live"] = (200, HTML, PAGE.encode(), 0.0)
    root = make_store()
    before = snapshot_tree(root)
    done = _import(root, f"http://127.0.0.1:{pages.port}/live")
    assert done.exit_code == 1
    assert "127.0.0.1 is not a public address" in done.output
    assert 'import_allow_hosts = "127.0.0.1"' in done.output
    _one_clean_line(done.output)
    assert snapshot_tree(root) == before
    allowed = make_store(SITE_TOML + 'import_allow_hosts = "127.0.0.1"\n')
    done = _import(allowed, f"http://127.0.0.1:{pages.port}/live")
    assert done.exit_code == 0, done.output
    assert "2 new" in done.output


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/live", "ftp://127.0.0.1:{port}/live", "file:///etc/passwd"]
)
def test_every_redirect_is_checked_again(
    target: str, pages: _Pages, make_store: StoreFactory
) -> None:
    """localhost is allowed by name; a redirect to 127.0.0.1 (or to ftp:, file:) is not."""
    routes = pages.routes
    routes["/live"] = (200, HTML, PAGE.encode(), 0.0)
    routes["/jump"] = (302, {"Location": target.format(port=pages.port)}, b"", 0.0)
    root = make_store(SITE_TOML + 'import_allow_hosts = "localhost"\n')
    done = _import(root, f"http://localhost:{pages.port}/jump")
    assert done.exit_code == 1, done.output
    assert "not a public address" in done.output or "which is not http(s)" in done.output
    _one_clean_line(done.output)


def test_a_page_that_trickles_in_is_stopped_at_the_deadline(pages: _Pages) -> None:
    from feeds.importer.fetch import read_source

    pages.routes["/slow"] = (200, HTML, b"x" * 40, 0.1)  # a byte every 0.1 s: 4 s in all
    started = time.monotonic()
    with pytest.raises(ImportProblem, match="took longer than 1 s"):
        read_source(f"http://127.0.0.1:{pages.port}/slow", allow_hosts=("127.0.0.1",), deadline=1.0)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1",
     "fe80::1", "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"],
)  # fmt: skip
def test_what_is_not_public(address: str) -> None:
    import ipaddress

    from feeds.importer.fetch import _public

    assert not _public(ipaddress.ip_address(address))
    assert _public(ipaddress.ip_address("93.184.215.14"))


# --- only regular files, reads bounded by what arrives ----------------------------


@pytest.mark.parametrize("kind", ["device", "fifo", "loop"])
def test_a_store_entry_that_is_not_a_regular_file_is_an_error_not_a_hang(
    kind: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    import os

    root = make_store(a=story(body="## 2024-06-01 10:00 {#a}\n\nText."))
    entry = root / "b.md"
    if kind == "device":
        entry.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(entry)
    else:
        entry.symlink_to(root / "b.md")
    done = CliRunner().invoke(cli, ["build", "--data", str(root), "--out", str(tmp_path / "o")])
    assert done.exit_code == 1, done.output
    assert "b.md:" in done.output
    assert "not a regular file" in done.output or "symbolic link to nothing" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "o").exists()
    assert not (root.parent / ".feeds" / "staging").exists()


def test_the_importer_reads_no_device(make_store: StoreFactory) -> None:
    done = CliRunner().invoke(
        cli, ["import", "/dev/zero", "--story", "z", "--data", str(make_store())]
    )
    assert done.exit_code == 1 and "/dev/zero: not a regular file" in done.output
    _one_clean_line(done.output)


def test_show_and_list_never_send_control_characters_to_the_terminal(
    make_store: StoreFactory,
) -> None:
    """C1 controls (U+009B is CSI) are valid XML, so the store keeps them; a terminal
    must not get them raw (nor ESC or BEL)."""
    root = make_store(
        a=story(
            'title = "Window \\u009b]0;pwned"', "## 2024-06-01 10:00 — Bell \u009b7m {#a}\n\nT."
        )
    )
    for args in (["show", "a"], ["list"]):
        done = CliRunner().invoke(cli, [*args, "--data", str(root)])
        assert done.exit_code == 0, done.output
        assert "\u009b" not in done.output and "\x1b" not in done.output
        assert "\\x9b" in done.output


def test_the_build_state_is_data_not_code(make_store: StoreFactory, tmp_path: Path) -> None:
    """An old site.pickle (feeds 0.2) is never loaded: whoever could write the state
    folder could have run code as the builder. It is removed."""
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[Any, tuple[str]]:
            import os

            return (os.system, (f"touch {tmp_path / 'ran'}",))

    root = make_store(a=story(body="## 2024-06-01 10:00 {#a}\n\nText."))
    state = tmp_path / "state"
    state.mkdir()
    (state / "site.pickle").write_bytes(pickle.dumps(Payload()))
    args = ["build", "--data", str(root), "--out", str(tmp_path / "o"), "--state", str(state)]
    done = CliRunner().invoke(cli, args, env={"FEEDS_NOW": "2024-07-01T00:00:00Z"})
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "ran").exists()
    assert not (state / "site.pickle").exists()
    assert (state / "site.json").read_bytes().startswith(b'{"format":')


@pytest.mark.parametrize(
    "text", ["See [` here.", "x [` y", "[ `", "[\n`", "a [`b`](https://e.org/) c"]
)
def test_text_the_fast_markdown_renderer_chokes_on_is_rendered(
    text: str, make_store: StoreFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """markdown-it-pyrs 0.4 panics (a Rust backtrace, then a Python traceback) on an
    unclosed "[" before a backtick; found by fuzzing the store parser."""
    from feeds.text import markdown_to_html

    html = markdown_to_html(text, "https://news.test/live/a/")
    assert html.startswith("<p>") and "`" in html or "<code>" in html
    root = make_store(a=story(body=f"## 2024-06-01 10:00 {{#a}}\n\n{text}\n"))
    done = _build(root, tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert "panicked" not in capfd.readouterr().err


# --- a full disk -------------------------------------------------------------


def _limited(limit: int, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``feeds ARGS`` where no file may grow past ``limit`` bytes: every write
    beyond it fails (EFBIG; Python ignores SIGXFSZ), as on a disk that is full."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "feeds", *args],
        cwd=cwd,
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FEEDS_NOW": "2030-01-01T00:00:00Z"},
    )


def test_feeds_add_on_a_full_disk_is_one_line_and_changes_nothing(
    make_store: StoreFactory,
) -> None:
    root = make_store(a=story(body="## 2024-06-01 10:00 {#a}\n\n" + "Text. " * 200))
    before = snapshot_tree(root)
    done = _limited(500, "add", "a", "A new update.", cwd=root.parent)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"Error: {root / 'a.md'}: File too large; nothing was changed")
    _one_clean_line(done.stderr)
    assert snapshot_tree(root) == before
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("limit", [0, 300, 3_000, 6_000, 9_000, 12_000, 20_000])
def test_a_build_on_a_full_disk_is_one_line_and_the_next_one_repairs(
    limit: int, make_store: StoreFactory
) -> None:
    body = "".join(
        f"## 2024-06-01 10:{m:02d} {{#u{m}}}\n\nUpdate {m}. " + "Words. " * 40 + "\n\n"
        for m in range(12)
    )
    root = make_store(a=story(body=body), b=story(body=body))
    cwd, data = root.parent, snapshot_tree(root)
    done = _limited(limit, "build", cwd=cwd)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "cannot write (File too large); check space and permissions" in done.stderr
    _one_clean_line(done.stderr)
    assert snapshot_tree(root) == data
    again = subprocess.run(
        [sys.executable, "-m", "feeds", "build"], cwd=cwd, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "feeds", "check"], cwd=cwd, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not list(cwd.rglob("*.tmp"))


# --- limits on nesting and tables --------------------------------------------


def _deep_lists(n: int) -> str:
    return "<ul><li>" * n + "x" + "</li></ul>" * n


@pytest.mark.parametrize(
    ("body", "line", "where"),
    [
        ("## 2024-06-01 10:00 {#a}\n\n" + _deep_lists(40_000) + "\n", 5, "update"),
        ("## 2024-06-01 10:00 {#a}\n\nQuoted:\n\n" + "> " * 101 + "deep\n", 5, "update"),
        ("Intro.\n\n" + "<blockquote>" * 120 + "x\n\n## 2024-06-01 10:00 {#a}\n\nT.\n", 4, "first"),
        ("## 2024-06-01 10:00 {#a}\n\n" + "<div><span>" * 60 + "x\n", 5, "update"),
    ],
    ids=["raw lists", "markdown quotes", "background", "unclosed tags"],
)
def test_text_nested_beyond_the_limit_is_an_error_at_its_update(
    body: str, line: int, where: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(a=story(body=body))
    before = snapshot_tree(root)
    done = CliRunner().invoke(cli, ["build", "--data", str(root), "--out", str(tmp_path / "o")])
    assert done.exit_code == 1, done.output
    whose = "of this update" if where == "update" else "above the first update"
    assert f"a.md:{line}: the text {whose}: it nests elements" in done.output
    assert "more than 100 deep; flatten it" in done.output
    _one_clean_line(done.output)
    assert snapshot_tree(root) == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "text",
    [
        _deep_lists(50),  # 100 elements: <ul><li> twice a level
        "> " * 99 + "deep",
        "<ul>" + "<li>item" * 5_000 + "</ul>",  # siblings whose end tags are left out
        "<table>" + "<tr><td>a<td>b" * 3_000 + "</table>",
        "<p>one<p>two<br><img src=x.png alt=x><hr>" * 500,
        "<p><b><i><span>text" * 500,  # paragraphs left open around inline tags
    ],
    ids=["50 lists", "99 quotes", "open items", "open cells", "void elements", "open p"],
)
def test_nesting_within_the_limit_builds(text: str, make_store: StoreFactory) -> None:
    root = make_store(a=story(body=f"## 2024-06-01 10:00 {{#a}}\n\n{text}\n"))
    assert b"<" in render_store(root)["a/index.html"]


def _table(rows: int, columns: int) -> str:
    header = "|" + "|".join(f"c{i}" for i in range(columns)) + "|\n"
    return header + "|" + "---|" * columns + "\n" + ("|" + "a|" * columns + "\n") * rows


def test_tables_beyond_the_limit_are_an_error_at_the_row_that_passes_it(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    # 10,000 cells in the first table; the second passes 20,000 on its last row.
    body = (
        "## 2024-06-01 10:00 {#a}\n\n" + _table(998, 10) + "\n"
        "## 2024-06-01 11:00 {#b}\n\n" + _table(999, 10) + "\n"
        "## 2024-06-01 12:00 {#c}\n\nText.\n"
    )
    root = make_store(a=story(body=body))
    before = snapshot_tree(root)
    done = CliRunner().invoke(cli, ["build", "--data", str(root), "--out", str(tmp_path / "o")])
    assert done.exit_code == 1, done.output
    lines = (root / "a.md").read_text().split("\n")
    last_row = lines.index("## 2024-06-01 12:00 {#c}") - 1  # 1-based: the row above the blank
    assert f"a.md:{last_row}: the tables of this story have more than 20,000 cells" in done.output
    _one_clean_line(done.output)
    assert snapshot_tree(root) == before


def test_tables_up_to_the_limit_build(make_store: StoreFactory) -> None:
    body = "## 2024-06-01 10:00 {#a}\n\n" + _table(998, 10) + "\n## 2024-06-01 11:00 {#b}\n\n"
    root = make_store(a=story(body=body + _table(998, 10)))
    rendered = render_store(root)
    assert rendered["a/index.html"].count(b"<td>") == 2 * 998 * 10


# --- imported text stays text; the dry run is what the import does -----------

_INJECTING_PAGE = """<html><head><title>Harbour live</title></head><body>
<h1>Harbour live</h1><p>Wednesday 15 January 2025</p>
<p><strong>14:05</strong> The pier is closed.<br>## 2030-01-01 00:00 — Planted
{#fake author="Mallory"}<br>Planted text.</p>
<p><strong>13:40</strong> Divers are on the way.<br>Title line<br>---<br>```<br>+++<br>
&lt;pre&gt; and &lt;!-- open</p>
<p><strong>13:00</strong> Boats were told to stay in port.</p>
</body></html>
"""


def _import(root: Path, page: Path, *more: str) -> Any:
    args = ["import", str(page), "--story", "harbour", "--timezone", "Europe/London"]
    args += ["--date", "2025-01-15"]
    return CliRunner().invoke(cli, [*args, "--data", str(root), *more])


def test_store_syntax_on_an_imported_page_stays_text(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store()
    page = tmp_path / "page.html"
    page.write_text(_INJECTING_PAGE)
    dry = _import(root, page, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert not (root / "harbour.md").exists()
    done = _import(root, page)
    assert done.exit_code == 0, done.output
    reconciled = publish_store(root)
    (published,) = reconciled.stories
    updates = published.story.updates
    assert [u.anchor for u in updates] == ["u20250115-1405", "u20250115-1340", "u20250115-1300"]
    assert all(u.authors[0].name != "Mallory" for u in updates)
    assert "## 2030-01-01 00:00 — Planted {#fake" in updates[0].plain
    assert "Title line --- ``` +++ <pre> and <!-- open" in updates[1].plain
    assert updates[2].plain == "Boats were told to stay in port."
    # The dry run listed exactly these, and says the same of the store now.
    listed = [ln.split()[6] for ln in dry.output.splitlines() if ln.startswith("add ")]
    assert listed == [u.anchor for u in updates]
    assert "the story will have 3 updates" in dry.output
    again = _import(root, page, "--dry-run")
    assert [ln.split()[0] for ln in again.output.splitlines()[1:4]] == ["same"] * 3


def test_a_page_the_store_would_refuse_fails_the_dry_run_too_and_writes_nothing(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(
        harbour=story(
            'title = "Harbour"\ntimezone = "Europe/London"',
            "## 2025-01-15 12:00 {#noon}\n\nFirst.\n",
        )
    )
    before = snapshot_tree(root)
    page = tmp_path / "page.txt"
    # Two new updates, written oldest first; the newer nests quotes beyond the limit.
    page.write_text(
        "Harbour live\n\n14:05 — Quoted:\n\n" + "> " * 120 + "deep\n\n13:00 — The pier is closed.\n"
    )
    results = [_import(root, page, "--dry-run"), _import(root, page)]
    for done in results:
        assert done.exit_code == 1, done.output
        assert "more than 100 deep" in done.output
        _one_clean_line(done.output)
    assert snapshot_tree(root) == before  # not even the first of the two new updates


# --- state and output in a shape no build wrote -------------------------------


@pytest.mark.parametrize("name", ["index.json", "site.json", "stories/a.json"])
def test_a_state_file_nested_beyond_reading_is_rebuilt_not_a_crash(
    name: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(a=story(body="## 2024-06-01 10:00 {#a}\n\nText."))
    args = ["build", "--data", str(root), "--out", str(tmp_path / "o")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    state = root.parent / ".feeds" / name
    state.write_text("[" * 100_000 + "]" * 100_000)  # RecursionError for a recursive reader
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    checked = CliRunner().invoke(cli, ["check", "--data", str(root), "--out", str(tmp_path / "o")])
    assert checked.exit_code == 0, checked.output
    assert json.loads(state.read_text())  # written again as data


def test_a_story_feed_that_is_a_folder_is_one_line_and_changes_nothing(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(a=story(body="## 2024-06-01 10:00 {#a}\n\nText."))
    args = ["build", "--data", str(root), "--out", str(tmp_path / "o")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    feed = tmp_path / "o" / "a" / "rss.xml"
    feed.unlink()
    feed.mkdir()
    (root / "a.md").write_text(story(body="## 2024-06-01 11:00 {#b}\n\nMore.\n\n"
                                          "## 2024-06-01 10:00 {#a}\n\nText."))  # fmt: skip
    atom = (tmp_path / "o" / "a" / "atom.xml").read_bytes()
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 1
    assert f"{feed}: cannot write (Is a directory)" in done.output
    _one_clean_line(done.output)
    assert (tmp_path / "o" / "a" / "atom.xml").read_bytes() == atom  # the story's batch waits
    feed.rmdir()
    assert CliRunner().invoke(cli, args).exit_code == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing", "the server answered HTTP 404"),
        ("/loop", "redirect"),
        ("/huge", "larger than 5,242,880 bytes"),
        ("/koi", "not a character encoding of web pages"),
        ("/nothing", "no update with a timestamp found"),
    ],
    ids=["404", "redirect loop", "too large", "unknown encoding", "not a live blog"],
)
def test_pages_that_cannot_be_imported_are_one_line_and_write_nothing(
    path: str, expected: str, pages: _Pages, make_store: StoreFactory
) -> None:
    routes = pages.routes
    routes["/loop"] = (302, {"Location": f"http://127.0.0.1:{pages.port}/loop2"}, b"", 0.0)
    routes["/loop2"] = (302, {"Location": f"http://127.0.0.1:{pages.port}/loop"}, b"", 0.0)
    routes["/huge"] = (200, HTML, b"<p>14:05 x</p>" * 400_000, 0.0)
    routes["/koi"] = (200, {"Content-Type": "text/html; charset=x-no-such"}, PAGE.encode(), 0.0)
    routes["/nothing"] = (
        200,
        HTML,
        b"<html><body><h1>Recipes</h1><p>Bake it.</p></body></html>",
        0.0,
    )
    root = make_store(SITE_TOML + 'import_allow_hosts = "127.0.0.1"\n')
    before = snapshot_tree(root)
    done = _import(root, f"http://127.0.0.1:{pages.port}{path}")
    assert done.exit_code == 1, done.output
    assert expected in done.output
    _one_clean_line(done.output)
    assert snapshot_tree(root) == before
