"""A build with nothing to do imports none of the parsing and rendering libraries.

`feeds build` runs every minute from cron; when nothing changed it should
cost Python's start-up and a look at the store, not the import of Markdown,
HTML and feed libraries. Each build runs in a fresh interpreter, because the
test process itself has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .conftest import snapshot_tree
from .s3server import Bucket

NOW = "2024-07-01T00:00:00Z"

# Prefixes, so that a module moved inside one of these packages is still caught.
# Python's start-up imports none of them (email.utils included); only modules
# imported after start-up count, in case a site hook imports one first.
NOT_FOR_AN_IDLE_BUILD = (
    "markdown_it",  # markdown_it_pyrs too
    "nh3",
    "lxml",
    "feedgen",
    "email.utils",
    "feeds.render",
    "feeds.importer",
)

# The console script's entry point, run in-process as `feeds build` would be.
BUILD = """
import json, sys
startup = sorted(sys.modules)
from feeds.cli import main
sys.argv = ["feeds", "build", "--data", {data!r}, "--out", {out!r}]
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
print(json.dumps({{"startup": startup, "modules": sorted(sys.modules)}}))
"""


def build_in_fresh_python(data: Path, out: Path | str) -> tuple[set[str], set[str]]:
    """Modules present at start-up, and after one `feeds build` in a new interpreter."""
    # pytest-cov's subprocess hook would import coverage's own modules
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    env["FEEDS_NOW"] = NOW
    done = subprocess.run(
        [sys.executable, "-c", BUILD.format(data=str(data), out=str(out))],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=data.parent,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    return set(report["startup"]), set(report["modules"])


def test_idle_build_imports_no_parser_or_renderer(example_data: Path, tmp_path: Path) -> None:
    # A file saved within seconds of a build is read again by the next one
    # (it may change again within the file system's clock tick): date the copy
    # an hour back so that the second build really has nothing to do.
    an_hour_ago = time.time() - 3600
    for path in example_data.iterdir():
        os.utime(path, (an_hour_ago, an_hour_ago))
    out = tmp_path / "out"

    _, first = build_in_fresh_python(example_data, out)
    assert "feeds.render" in first  # sanity: the first build rendered
    built = snapshot_tree(out)
    assert built

    startup, idle = build_in_fresh_python(example_data, out)
    assert snapshot_tree(out) == built  # sanity: nothing to do, nothing done
    assert "feeds.cli" in idle

    imported = sorted(name for name in idle - startup if name.startswith(NOT_FOR_AN_IDLE_BUILD))
    assert imported == []


def test_idle_build_to_a_bucket_imports_no_s3_client(
    example_data: Path, bucket: Bucket, tmp_path: Path
) -> None:
    """boto3 costs about 0.2 s to start: only a build with something to upload pays it."""
    an_hour_ago = time.time() - 3600
    for path in example_data.iterdir():
        os.utime(path, (an_hour_ago, an_hour_ago))
    _, first = build_in_fresh_python(example_data, bucket.url)
    assert "boto3" in first  # sanity: the first build uploaded
    startup, idle = build_in_fresh_python(example_data, bucket.url)
    imported = sorted(
        name for name in idle - startup if name.startswith(("boto3", "botocore", "s3transfer"))
    )
    assert imported == []
