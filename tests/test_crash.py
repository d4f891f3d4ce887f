"""SIGKILL `feeds build` at many points while it writes; out/ must never be torn.

After every kill, every feed file in out/ must parse (each is wholly old or
wholly new), and the next build must finish cleanly and leave out/ exactly as
a full re-render would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from feeds.build.commit import PUBLISHING_MARKER as DIRTY_MARKER

from .conftest import StoreFactory, story

STORIES = 200
NOW = "2024-06-02T00:00:00Z"


def write_store(root: Path, version: int) -> None:
    for i in range(STORIES):
        body = "\n\n".join(
            f"## 2024-06-01 {h:02d}:00 — Update {h} {{#u{h}}}\n\n"
            f"Version {version} of story {i}: <b>bold</b> & “quoted” text, ação."
            for h in range(10, 0, -1)
        )
        (root / f"s{i:03d}.md").write_text(story(f'title = "Story {i}"', body), encoding="utf-8")


def feeds_build(root: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "feeds",
        "build",
        "--data",
        str(root),
        "--out",
        str(tmp_path / "out"),
        "--state",
        str(tmp_path / "state"),
        "--now",
        NOW,
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def assert_every_feed_parses(out: Path) -> int:
    count = 0
    for path in out.rglob("*.xml"):
        if path.name.startswith("."):
            continue  # a killed build's temporary file, never a published name
        root = etree.fromstring(path.read_bytes())  # raises on a torn file
        assert root.tag in ("rss", "{http://www.w3.org/2005/Atom}feed"), path
        count += 1
    return count


@pytest.mark.slow
def test_sigkill_at_any_point_never_tears_a_file(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store()
    write_store(root, 0)
    started = time.monotonic()
    finish(feeds_build(root, tmp_path))
    duration = time.monotonic() - started
    out = tmp_path / "out"
    assert assert_every_feed_parses(out) == 2 * STORIES + 2

    kills, torn_publishes = 10, 0
    for k in range(kills):
        write_store(root, k + 1)  # every story changes: every file is rewritten
        proc = feeds_build(root, tmp_path)
        if k % 2:
            # Aim at the writing phase: it begins when the marker appears.
            marker = tmp_path / "state" / DIRTY_MARKER
            deadline = time.monotonic() + 60
            while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(0.05 * k / kills)
        else:
            time.sleep(duration * (0.2 + 0.9 * k / kills))  # anywhere, reading included
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        torn_publishes += (tmp_path / "state" / DIRTY_MARKER).exists()
        assert_every_feed_parses(out)
        finish(feeds_build(root, tmp_path))  # the next build completes cleanly...
        assert not (tmp_path / "state" / DIRTY_MARKER).exists()
        assert not list(out.rglob("*.tmp"))
        # ...and leaves nothing for a full re-render to fix.
        assert (
            finish(feeds_build(root, tmp_path, "--force", "-v"))
            .strip()
            .endswith("0 stories changed, 0 files written, 0 removed")
        )
        assert (
            f"Version {k + 1} of story {STORIES - 1}".encode()
            in (out / f"s{STORIES - 1:03d}" / "atom.xml").read_bytes()
        )
    # The kills must really have landed while files were being replaced.
    assert torn_publishes >= kills // 2, f"only {torn_publishes} kills hit the writing phase"
