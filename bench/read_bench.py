"""How long the commands that touch one story take, as the store grows.

    .venv/bin/python bench/read_bench.py                  # 10,000 stories x 50 updates
    .venv/bin/python bench/read_bench.py --quick          # 300 x 10
    .venv/bin/python bench/read_bench.py --stories 2000 --updates 20 --check

Generates the same synthetic store as build_bench.py, runs one `feeds build`
so that build state exists, then times whole processes (Python start-up
included), each repeated, and prints one table of medians with min and max:

  --version     start-up alone: the floor under every command
  show          `feeds show SLUG`
  export        `feeds export SLUG` (JSON)
  export md     `feeds export SLUG --format md`
  add           `feeds add SLUG TEXT`, a new update each time
  list          `feeds list`, which reads every story: for information

The commands run in rounds (each command once per round, after one round
that is not counted), so that a slow spell of the machine spreads over all of
them. The target is show, export and add each under 0.2 s at 10,000 stories:
a command about one story should not cost more as other stories are added.
With --check, it fails (exit 1) when one of them misses it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from build_bench import NOW, generate

TARGET_S = 0.2
TARGETED = ("show", "export", "export md", "add")


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Wall time of one whole process, and its output; any failure stops the bench."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}"
        )
    return wall, done.stdout.decode()


def add_time(r: int) -> str:
    """A distinct minute per run, in June 2024: before NOW, so never held back."""
    minutes = 12 * 60 + r
    return f"2024-06-28 {minutes // 60:02d}:{minutes % 60:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="300 stories x 10 updates")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"fail when show, export or add take more than {TARGET_S} s (median)",
    )
    parser.add_argument("--workdir", type=Path, help="where to work [default: a temp folder]")
    parser.add_argument(
        "--no-list", action="store_true", help="leave out feeds list (a minute at 10,000 stories)"
    )
    args = parser.parse_args()
    if args.quick:
        args.stories, args.updates = 300, 10
    if args.stories < 2 or args.updates < 1 or not 1 <= args.repeats <= 600:
        parser.error("needs 2 or more stories, 1 or more updates and 1 to 600 repeats")

    work = (args.workdir or Path(tempfile.mkdtemp(prefix="feeds-read-bench-"))).absolute()
    try:
        rows = bench(args, work)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    report(args, rows)


def bench(args: argparse.Namespace, work: Path) -> dict[str, list[float]]:
    data, out, state = work / "data", work / "out", work / ".feeds"  # .feeds: the default state
    for folder in (data, out, state):
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"generating {args.stories:,} stories x {args.updates} updates in {work}", file=sys.stderr
    )
    generate(data, args.stories, args.updates)

    env = {**os.environ, "FEEDS_NOW": NOW}
    feeds = [sys.executable, "-m", "feeds"]
    store = ["--data", str(data)]
    print("building once", file=sys.stderr)
    wall, _ = run([*feeds, "build", *store, "--out", str(out), "--quiet"], env, work)
    print(f"build {wall:.1f}s", file=sys.stderr)
    if not state.is_dir():
        raise SystemExit(f"the build left no state in {state}")

    # Stories in the middle of the store: neither the first nor the last file read.
    shown = f"story-{args.stories // 2:05d}"
    added = f"story-{args.stories // 2 + 1:05d}"
    shown_file = data / f"{shown}.md"
    commands: dict[str, list[str]] = {
        "--version": [*feeds, "--version"],
        "show": [*feeds, "show", shown, *store],
        "export": [*feeds, "export", shown, *store],
        "export md": [*feeds, "export", shown, "--format", "md", *store],
        "add": [],  # a new update each run: see below
        "list": [*feeds, "list", *store],
    }
    if args.no_list:
        del commands["list"]

    rows: dict[str, list[float]] = {name: [] for name in commands}
    added_texts = []
    for r in range(args.repeats + 1):
        for name, cmd in commands.items():
            if name == "add":
                text = f"Read benchmark update {r}: ação & <ok>."
                cmd = [*feeds, "add", added, text, "--at", add_time(r), *store]
                added_texts.append(text)
            wall, output = run(cmd, env, work)
            check_output(name, output, shown_file, args.updates)
            if r:  # round 0 warms the caches and is not counted
                rows[name].append(wall)
        if r:
            print(
                f"round {r}: " + ", ".join(f"{n} {w[-1]:.3f}s" for n, w in rows.items()),
                file=sys.stderr,
            )

    story_text = (data / f"{added}.md").read_text(encoding="utf-8")
    missing = [t for t in added_texts if t not in story_text]
    if missing:
        raise SystemExit(f"feeds add did not write {len(missing)} of its updates to {added}.md")
    return rows


def check_output(name: str, output: str, shown_file: Path, updates: int) -> None:
    """Enough of each command's output to know it did the work being timed."""
    ok = True
    if name == "--version":
        ok = "feeds" in output
    elif name == "show":
        ok = f"Story {int(shown_file.stem.split('-')[1])}:" in output
    elif name == "export":
        ok = len(json.loads(output)) == updates
    elif name == "export md":
        ok = output == shown_file.read_text(encoding="utf-8")
    elif name == "add":
        ok = "/u20240628-" in output.split("\n")[0]
    elif name == "list":
        ok = shown_file.stem in output
    if not ok:
        raise SystemExit(f"unexpected output from {name}:\n{output[:2000]}")


def report(args: argparse.Namespace, rows: dict[str, list[float]]) -> None:
    startup = statistics.median(rows["--version"])
    print(
        f"\n{args.stories:,} stories x {args.updates} updates; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}; whole processes, median of {args.repeats}"
    )
    print(
        f"{'command':<11}{'median s':>10}{'min s':>9}{'max s':>9}{'- start-up':>12}{'target s':>10}"
    )
    slow = []
    for name, walls in rows.items():
        median = statistics.median(walls)
        extra = f"{median - startup:.3f}" if name != "--version" else "-"
        target = f"< {TARGET_S}" if name in TARGETED else "-"
        print(
            f"{name:<11}{median:>10.3f}{min(walls):>9.3f}{max(walls):>9.3f}{extra:>12}{target:>10}"
        )
        if name in TARGETED and median > TARGET_S:
            slow.append(f"{name}: median {median:.3f} s (target {TARGET_S} s)")
    if args.check and slow:
        for line in slow:
            print(f"TOO SLOW: {line}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
