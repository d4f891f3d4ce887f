"""Fuzzing the boundaries: the store parser, the renderers, the importer and `feeds add`.

Each case is built from pieces that real input has (headings right and wrong,
raw HTML blocks, character references, code, lists, tables, attributes) mixed
with arbitrary text, and every case must end in a clean result or a clean
error: never an exception, never a feed that lxml (strict) cannot parse, never
an update lost between the store and its feed, never a change to ``data/`` on
error. CI runs FEEDS_FUZZ_EXAMPLES cases per test (200 by default); set it
higher to search longer.
"""

from __future__ import annotations

import json
import os
import string
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.build.folder import story_folder
from feeds.cli import cli
from feeds.errors import FeedsError
from feeds.model import Person, Site
from feeds.reconcile import History, reconcile_story
from feeds.store.problems import Problems
from feeds.store.storyfile import parse_story

from .conftest import SITE_TOML, StoreFactory, snapshot_tree, story

EXAMPLES = int(os.environ.get("FEEDS_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
SITE = Site(title="T", base_url="https://x.test/", id_authority="x.test,2024", author=Person("T"))
LATER = datetime(2100, 1, 1, tzinfo=UTC)

PIECES = st.sampled_from(
    [
        "## 2024-06-01 10:00 — Title {#a}\n\n",
        "## 2024-06-01 10:05\n\n",
        '## 2024-06-01 10:10 +01:00 {#b author="X <x@y.org>"}\n\n',
        '## 2024-06-01 10:15 — T {#c updated="2024-06-02 10:00"}\n\n',
        "## 2024-13-01 10:00\n",
        "## 2024-1001 10:00\n",
        "## Sat 1 Jun 10:00\n",
        "### 10:00 later\n",
        "##2024-06-01 10:00\n",
        "<pre>\n",
        "</pre>\n",
        "<div>\n",
        "</div>\n",
        "<!--\n",
        "```\n",
        "\n",
        "text &#x1; here ",
        "&#xFFFE;",
        "&#12;",
        "<b>",
        "</b>",
        "<script>alert(1)</script>",
        "[`",
        "[link](javascript:alert(1))",
        "- item\n",
        "  - nested\n",
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "{#x}",
        "\u009b",
        "\U0001f600",
        "\r\n",
        "+++\n",
    ]
)
TEXT = st.text(alphabet=string.printable + "é—\u00a0\u2028", max_size=24)
BODIES = st.lists(st.one_of(PIECES, TEXT), max_size=30).map("".join)


def _well_formed(name: str, data: bytes) -> None:
    if name.endswith(".xml"):
        etree.fromstring(data, etree.XMLParser(recover=False))
    elif name.endswith(".json"):
        json.loads(data)


@FUZZ
@given(BODIES)
@example("## 2024-06-01 10:00 {#a}\n\nSee [` here.\n")  # markdown-it-pyrs 0.4 panicked
def test_a_story_parses_cleanly_and_renders_well_formed_feeds(body: str) -> None:
    raw = ('+++\ntitle = "S"\ntimezone = "Europe/Lisbon"\n+++\n\n' + body).encode()
    problems = Problems(Path("s.md"))
    parsed = parse_story("s", raw, SITE, problems)
    if parsed is None:
        assert problems.items  # a clean error says where
        return
    reconciled = reconcile_story(parsed, History.empty(), LATER, 30, history_complete=True)
    if reconciled.story is None:
        return
    folder = story_folder(SITE, reconciled.story)
    files = folder.render()
    for name, data in files.items():
        _well_formed(name, data)
    atom = etree.fromstring(files["s/atom.xml"])
    entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == min(len(reconciled.story.story.updates), SITE.items_per_feed)


@FUZZ
@given(st.lists(st.one_of(PIECES, TEXT), max_size=20).map("".join), st.booleans())
@example("text &#x1; here <script>alert(1)</script>## 2024-06-01 10:00 — T {#a}\n", True)
def test_the_importer_reads_a_page_or_says_why(text: str, as_html: bool) -> None:
    from feeds.importer.page import html_page, text_page
    from feeds.importer.resolve import read

    page_text = f"<html><body><p>{text}</p></body></html>" if as_html else text
    try:
        page = html_page(page_text) if as_html else text_page(page_text)
        read(page, zone="Europe/Lisbon", page_date=None)
    except FeedsError:
        pass  # a clean, one-line error


@settings(
    max_examples=max(20, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(text=st.lists(st.one_of(PIECES, TEXT), min_size=1, max_size=8).map("".join))
def test_feeds_add_takes_the_text_or_leaves_the_store_alone(
    text: str, make_store: StoreFactory
) -> None:
    root = make_store(a=story(body="## 2024-06-01 10:00 {#first}\n\nFirst."))
    before = snapshot_tree(root)
    done = CliRunner().invoke(
        cli, ["add", "a", text, "--data", str(root), "--at", "2024-06-01 11:00"]
    )
    assert done.exception is None or isinstance(done.exception, SystemExit), done.output
    assert "Traceback" not in done.output
    if done.exit_code != 0:
        assert snapshot_tree(root) == before


# --- the command line ---------------------------------------------------------

SLUGS = ["a", "z", "B", "b/c", "new-story"]
IDS = ["first", "u20240601-1000", "zzz", "a"]
TIMES = ["2024-06-01 11:00", "2024-02-30 10:00", "02:30", "25:61", "2024-06-01T10:00:00+25:00",
         "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]  # fmt: skip
ZONES = ["Europe/Lisbon", "Mars/Olympus", "UTC", "../../etc/passwd", "Asia/Kathmandu", ""]
COMMANDS: dict[str, tuple[list[list[str]], list[str]]] = {
    "add": ([SLUGS, ["A new update.", "-", "", "## 2024-06-01 10:00 {#q}"]],
            ["--at", "--title", "--author", "--id", "--build"]),
    "build": ([], ["--force", "--wait", "--now", "-v", "-q"]),
    "check": ([], []),
    "correct": ([SLUGS, IDS], ["--note"]),
    "edit": ([SLUGS, IDS], ["--text", "--title"]),
    "end": ([SLUGS], []),
    "export": ([SLUGS], ["--format", "--all"]),
    "import": ([["page.txt", "/dev/zero", "http://127.0.0.1:1/x", "-", "nothing.html"]],
               ["--story", "--timezone", "--date", "--format", "--dry-run", "--update"]),
    "init": ([["site", "data", "data/a.md", ""]],
             ["--title", "--base-url", "--timezone", "--author", "--id-authority"]),
    "list": ([], []),
    "new": ([SLUGS], ["--title", "--timezone", "--link", "--summary"]),
    "retract": ([SLUGS, IDS], ["--note"]),
    "show": ([SLUGS], []),
}  # fmt: skip
OPTION_VALUES = {
    "--at": TIMES, "--now": TIMES, "--timezone": ZONES, "--story": SLUGS, "--id": IDS,
    "--date": ["2025-01-15", "2025-02-30", "15/01/2025"], "--format": ["json", "md", "html",
    "text", "auto", "xml"], "--wait": ["0", "-1", "0.5", "nan", "1e309"], "--data": ["data",
    "out", "../up", "/nonexistent/x", "data/a.md", "/dev/zero"], "--out": ["out", "data",
    "s3:x", "s3://b//x/", "s3://k:s@b/x/", "/dev/zero", "data/a.md"], "--state": [".feeds",
    "data", "data/a.md", "/dev/zero"], "--store": ["data", "postgresql://127.0.0.1:1/nowhere",
    "mysql://x/y", "data/a.md"], "--link": ["https://x.test/", "ftp://x/", "javascript:x"],
    "--base-url": ["https://x.test/", "x.test", "http://[::1"],
}  # fmt: skip
FLAGS = {"--build", "--force", "-v", "-q", "--all", "--dry-run", "--update"}
VALUES = st.sampled_from(
    [
        "",
        "-",
        "a",
        "z",
        "data",
        "../up",
        "/nonexistent/x",
        "\x1b]0;title\x07",
        "a\nb",
        "\u202e",
        "é" * 300,
        "<script>",
        "&#x1;",
        "{#x}",
        "## 2024-06-01 10:00 {#q}",
        "1e309",
        "--data",
        "-h",
    ]  # fmt: skip
)


@st.composite
def _argv(draw: st.DrawFn) -> list[str]:
    """Mostly well-formed command lines with wrong values in them: what a user types."""
    command = draw(st.sampled_from(sorted(COMMANDS)))
    positionals, options = COMMANDS[command]
    argv = [command]
    for pool in positionals:
        if draw(st.integers(0, 9)):  # now and then one is left out
            argv.append(draw(st.one_of(st.sampled_from(pool), VALUES)))
    for option in draw(st.lists(st.sampled_from(options + ["--data", "--out", "--state"]),
                                max_size=4)):  # fmt: skip
        argv.append(option)
        if option not in FLAGS:
            pool = OPTION_VALUES.get(option, [])
            argv.append(draw(st.sampled_from(pool) if pool and draw(st.booleans()) else VALUES))
    return argv


@settings(
    max_examples=max(40, EXAMPLES // 2), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(argv=_argv())
@example(argv=["build", "--now", "9999-12-31T23:59:59-23:59"])  # was an OverflowError
@example(argv=["import", "page.txt", "--story", "a", "--timezone", "Mars/Olympus"])
def test_any_command_line_ends_in_a_result_or_one_clean_error(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with tempfile.TemporaryDirectory() as folder:  # a new site for every case
        here = Path(folder)
        root = here / "data"
        root.mkdir()
        (root / "site.toml").write_text(SITE_TOML)
        (root / "a.md").write_text(story(body="## 2024-06-01 10:00 {#first}\n\nFirst."))
        (here / "page.txt").write_text("Harbour live\n\n14:05 — The pier is closed.\n")
        monkeypatch.chdir(here)
        monkeypatch.setenv("EDITOR", "true")
        before = _store_files(root)
        done = CliRunner().invoke(cli, argv, input="Text from stdin.\n")
        assert done.exception is None or isinstance(done.exception, SystemExit), (
            argv,
            done.exception,
        )
        event(f"{argv[0]} exit {done.exit_code}")
        assert "Traceback" not in done.output, argv
        assert done.exit_code in (0, 1, 2, 3, 69, 75), (argv, done.output)
        errors = [line for line in done.output.splitlines() if line.startswith("Error:")]
        assert len(errors) <= 1, done.output
        if done.exit_code not in (0, 3):  # 3: the update was saved, the build failed
            assert _store_files(root) == before, (argv, done.output)
        assert not (here / ".feeds" / "staging").exists()


def _store_files(root: Path) -> dict[str, tuple[bytes, int]]:
    """What the store holds (its lock files are touched by every attempt to change it)."""
    return {name: v for name, v in snapshot_tree(root).items() if not name.endswith(".lock")}
