"""Publishing to a bucket: a cold publish, a no-op and a one-update change.

    .venv/bin/python bench/s3_bench.py              # 10,000 stories x 50 updates
    .venv/bin/python bench/s3_bench.py --quick      # 300 x 20, with --check, for CI

Generates build_bench.py's synthetic store, starts moto's S3 server on
127.0.0.1 (tests/s3server.py, its own process), and times whole `feeds build`
processes (Python start-up included), each against its baseline in the same
run, the same store built into a local folder:

1. cold: the first build, into an empty folder and into an empty bucket:
   seconds, peak memory (ru_maxrss), and for the bucket the objects and bytes
   (listed from the bucket afterwards) and the requests (the server's access
   log, by method);
2. no-op: --repeat builds with nothing to do, folder and bucket in turn:
   median, min, max seconds, and the requests the bucket builds sent;
3. one update added to one story (`feeds add`, not timed), then the build:
   folder and bucket in turn, --repeat times: median seconds, and the
   requests of each bucket build (which objects were PUT).

The server is moto's (Python, werkzeug): a real S3 HTTP API, not a fast one.
The figures say how many requests feeds sends and how long it takes here;
a real service's own speed is its own.

With --check (on in --quick) it exits 1 when a no-op build sends any request,
when an add sends anything but one PUT of each file the folder build changed,
or when the bucket's objects differ from the folder's files.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from build_bench import NOW, generate

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from s3server import CREDENTIALS, Bucket, MotoServer  # noqa: E402

FEEDS = [sys.executable, "-m", "feeds"]
TIMED = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "elapsed = time.perf_counter() - t\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "sys.stderr.write(done.stderr)\n"
    "print(f'{done.returncode} {elapsed} {peak}')\n"
)


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak MiB of one command, which must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", TIMED, *args], capture_output=True, text=True, env=env
    )
    code, elapsed, peak = done.stdout.split()
    if code != "0":
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr}")
    return float(elapsed), float(peak)


def build(data: Path, out: str, state: Path) -> list[str]:
    return [*FEEDS, "build", "-q", "--data", str(data), "--out", out, "--state", str(state)]


def methods(entries: list[tuple[str, str]], bucket: str) -> dict[str, int]:
    counts = collections.Counter(m for m, path in entries if path.startswith(f"/{bucket}"))
    return dict(sorted(counts.items()))


def spread(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"median {statistics.median(values):.3f} s (min {low:.3f}, max {high:.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="300 x 20, 3 repeats, --check")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.stories, args.updates, args.repeat, args.check = 300, 20, 3, True
    failures: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="feeds-s3-bench-"))
    server = None
    try:
        data = tmp / "data"
        generate(data, args.stories, args.updates)
        server = MotoServer(tmp, record=False)
        env = dict(os.environ, FEEDS_NOW=NOW, **CREDENTIALS)
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp / "none")
        bucket = Bucket(server, "bench")
        folder, folder_state, state = tmp / "out", tmp / "folder-state", tmp / "state"
        print(
            f"{args.stories:,} stories x {args.updates} updates; moto {moto_version()}, "
            f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}"
        )

        print("\n1. cold")
        seconds, peak = timed(build(data, str(folder), folder_state), env)
        print(f"   folder (baseline): {seconds:.1f} s, peak {peak:.0f} MiB")
        mark = len(server.access_log())
        seconds, peak = timed(build(data, bucket.url, state), env)
        sent = methods(server.access_log()[mark:], bucket.name)
        listing = list_objects(bucket)
        size = sum(listing.values())
        print(
            f"   bucket:            {seconds:.1f} s, peak {peak:.0f} MiB; {len(listing):,} "
            f"objects, {size / 2**20:.1f} MiB; requests {sent} "
            f"({len(listing) / seconds:.0f} objects/s overall)"
        )
        files = {
            str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()
        }
        if listing != files:
            failures.append("the bucket's objects are not the folder's files")

        print(f"\n2. no-op, {args.repeat} rounds in turn")
        times: dict[str, list[float]] = {"folder": [], "bucket": []}
        noop_requests = []
        for _ in range(args.repeat):
            times["folder"].append(timed(build(data, str(folder), folder_state), env)[0])
            mark = len(server.access_log())
            times["bucket"].append(timed(build(data, bucket.url, state), env)[0])
            noop_requests.append(sum(methods(server.access_log()[mark:], bucket.name).values()))
        print(f"   folder (baseline): {spread(times['folder'])}")
        print(
            f"   bucket:            {spread(times['bucket'])}; requests per build {noop_requests}"
        )
        ratios = [b / f for b, f in zip(times["bucket"], times["folder"], strict=True)]
        print(f"   bucket / folder pair by pair: median {statistics.median(ratios):.2f}")
        if any(noop_requests):
            failures.append(f"a no-op build sent requests: {noop_requests}")

        print(f"\n3. one update added to one story, then the build; {args.repeat} rounds")
        times = {"folder": [], "bucket": []}
        add_requests = []
        for round_number in range(args.repeat):
            slug = f"story-{(round_number * 7919) % args.stories:05d}"
            slug = slug if (data / f"{slug}.md").exists() else sorted(data.glob("*.md"))[0].stem
            subprocess.run(
                [*FEEDS, "add", slug, f"Bench round {round_number}.", "--data", str(data),
                 "--state", str(folder_state), "--out", str(folder)],
                check=True, capture_output=True, env=env,
            )  # fmt: skip
            before = digests(folder)
            times["folder"].append(timed(build(data, str(folder), folder_state), env)[0])
            after = digests(folder)
            needed = {name for name in after if before.get(name) != after[name]}
            mark = len(server.access_log())
            times["bucket"].append(timed(build(data, bucket.url, state), env)[0])
            entries = [e for e in server.access_log()[mark:] if e[1].startswith("/bench/")]
            add_requests.append(entries)
            sent = {path.removeprefix(f"/bench/{bucket.prefix}") for _, path in entries}
            if {m for m, _ in entries} != {"PUT"} or sent != needed or len(entries) != len(sent):
                failures.append(
                    f"round {round_number}: sent {sorted(entries)}, the folder build changed "
                    f"{sorted(needed)}"
                )
        print(f"   folder (baseline): {spread(times['folder'])}")
        print(f"   bucket:            {spread(times['bucket'])}")
        counts = [len(e) for e in add_requests]
        print(
            f"   requests per build: {counts}, each a PUT of a file the folder build changed; "
            "the last: "
            + ", ".join(p.removeprefix(f"/bench/{bucket.prefix}") for _, p in add_requests[-1])
        )
        listing = list_objects(bucket)
        files = {
            str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()
        }
        if listing != files:
            failures.append("after the adds, the bucket's objects are not the folder's files")
        print(f"\nload {os.getloadavg()[0]:.2f}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures[:20]))
        return 1 if args.check else 0
    return 0


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def list_objects(bucket: Bucket) -> dict[str, int]:
    found = {}
    for page in bucket.client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket.name, Prefix=bucket.prefix
    ):
        for item in page.get("Contents", ()):
            found[item["Key"][len(bucket.prefix) :]] = int(item["Size"])
    return found


def moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.0f} s in all)")
    sys.exit(code)
