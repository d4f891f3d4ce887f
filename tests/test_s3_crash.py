"""SIGKILL `feeds build` while it uploads to a bucket, ten times at random points.

After each kill: every object in the bucket parses; no document a reader can
reach (from the site's page, or from any object of the last complete build)
links to an object that is not there. The next build then finishes the work:
the bucket holds exactly what a build into a folder writes, and one more build
sends no request at all. FEEDS_CRASH_SEED picks other kill points.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from .conftest import StoreFactory, run_folder, story
from .linkcheck import reachable_breaks
from .s3server import Bucket
from .test_s3 import NOW, folder_files, site

STORIES = 60
ROUNDS = 10
NOW_TEXT = "2024-06-02T12:00:00Z"


def write_round(root: Path, version: int) -> None:
    """Every story edited (so every object changes), and one story in or out."""
    for i in range(STORIES):
        if i == version and version % 2:
            (root / f"s{i:03d}.md").unlink(missing_ok=True)
            continue
        updates = 10 + (version if i % 7 == 0 else 0)  # some stories gain archive pages
        body = "\n\n".join(
            f"## 2024-06-01 {h // 60:02d}:{h % 60:02d} — Update {h} {{#u{h}}}\n\n"
            f"Version {version} of story {i}: <b>bold</b> & “quoted”, ação."
            for h in range(updates, 0, -1)
        )
        (root / f"s{i:03d}.md").write_text(story(f'title = "Story {i}"', body), encoding="utf-8")


def build_command(root: Path, bucket: Bucket, state: Path) -> list[str]:
    return [
        sys.executable, "-m", "feeds", "build", "--data", str(root), "--out", bucket.url,
        "--state", str(state), "--now", NOW_TEXT,
    ]  # fmt: skip


class PutCounter:
    """Counts the bucket's PUTs in the server's request log as it grows."""

    def __init__(self, bucket: Bucket) -> None:
        self.log = bucket.server.log
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        self.needle = f'"method": "PUT", "url": "{bucket.server.endpoint}/{bucket.name}/'
        self.count = 0
        self.partial = ""

    def poll(self) -> int:
        with open(self.log, encoding="utf-8") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
            self.offset = fh.tell()
        lines = (self.partial + chunk).split("\n")
        self.partial = lines.pop()
        self.count += sum(line.count(self.needle) for line in lines)
        return self.count


def parses(name: str, body: bytes) -> None:
    if name.endswith((".xml", ".opml", ".xsl")):
        etree.fromstring(body)
    elif name.endswith(".json"):
        json.loads(body)
    elif name.endswith(".html"):
        assert body.rstrip().endswith(b"</html>"), name


@pytest.mark.slow
def test_sigkill_during_uploads_is_repaired_by_the_next_build(
    make_store: StoreFactory, bucket: Bucket, tmp_path: Path
) -> None:
    root = make_store(site(bucket.http, "items_per_feed = 4\n"))
    state = tmp_path / "state"
    write_round(root, 0)
    subprocess.run(build_command(root, bucket, state), check=True, capture_output=True)
    run_folder(root, tmp_path / "out", tmp_path / "fstate", clock=lambda: NOW)
    complete = bucket.objects()
    rng = random.Random(int(os.environ.get("FEEDS_CRASH_SEED", "20261202")))
    kills = 0
    for version in range(1, ROUNDS + 1):
        write_round(root, version)
        counter = PutCounter(bucket)
        target = rng.randint(1, 400)  # a round uploads about 500 objects
        proc = subprocess.Popen(
            build_command(root, bucket, state), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and counter.poll() < target and time.monotonic() < deadline:
            time.sleep(0.002)
        assert proc.poll() is None, f"round {version}: the build ended before {target} PUTs"
        proc.kill()
        proc.wait()
        kills += 1

        # Torn state: each object whole, nothing reachable leads nowhere.
        now = bucket.objects()
        for name, body in now.items():
            parses(name, body)
        entries = ["index.html", *(n for n in complete if n in now)]
        assert reachable_breaks(now, entries, bucket.http) == [], f"round {version}"
        assert any(now.get(n) != complete.get(n) for n in now), "the kill came before any PUT"

        # The next build finishes it: the folder build's bytes, and then nothing to do.
        done = subprocess.run(build_command(root, bucket, state), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        out = tmp_path / "out"  # the same store, built into a folder round by round
        run_folder(root, out, tmp_path / "fstate", clock=lambda: NOW)
        complete = bucket.objects()
        assert complete == folder_files(out), f"round {version}"
        bucket.since_now()
        again = subprocess.run(build_command(root, bucket, state), capture_output=True, text=True)
        assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
        assert bucket.requests() == [], f"round {version}: a build after the repair sent requests"
    assert kills == ROUNDS
