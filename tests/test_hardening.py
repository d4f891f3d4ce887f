"""No input may break a feed: characters XML forbids, and offsets RFC 3339 cannot write."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cli import cli
from feeds.render.atom import atom_feed
from feeds.render.rss import rss_feed
from feeds.timeutil import rfc822, rfc3339

from .conftest import StoreFactory, publish_store, render_store, snapshot_tree, story
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
    done = CliRunner().invoke(
        cli, ["build", "--data", str(root), "--out", str(tmp_path / "out")],
        env={"FEEDS_NOW": "2026-11-01T00:00:00Z"},
    )  # fmt: skip
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
    done = CliRunner().invoke(
        cli, ["build", "--data", str(root), "--out", str(tmp_path / "out")],
        env={"FEEDS_NOW": "2026-11-01T00:00:00Z"},
    )  # fmt: skip
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
    done = CliRunner().invoke(
        cli, ["build", "--data", str(root), "--out", str(tmp_path / "out")],
        env={"FEEDS_NOW": "2026-11-01T00:00:00Z"},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert (tmp_path / "out" / "a" / "atom.xml").read_bytes().count(b"<entry>") == 1
