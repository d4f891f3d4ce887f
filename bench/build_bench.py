"""How long `feeds build` takes, and how much memory, as the store grows.

    .venv/bin/python bench/build_bench.py                 # 10,000 stories x 50 updates
    .venv/bin/python bench/build_bench.py --quick         # 200 x 20, checks, for CI
    .venv/bin/python bench/build_bench.py --stories 1000 --updates 50

Generates a synthetic store (non-ASCII text, characters that need escaping,
Markdown emphasis and links, several zones), then times whole `feeds build`
processes (Python start-up included), each repeated, and prints one table of
medians with min and max:

  cold      first build: empty out/ and build state
  no-op     nothing changed since the last build
  add       after one `feeds add` to one story
  edit      after the text of one update was edited in its file
  baseline  a plain feedgen loop rendering RSS and Atom for the same updates
            (read with a regex, written to out/), for comparison

Peak memory is the largest resident set of the build process (ru_maxrss).
With --check (on in --quick), it also fails (exit 1) on a gross regression:
a no-op build that renders anything, or an add that renders more than the
story's folder and the site's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

NOW = "2024-07-01T00:00:00Z"
ZONES = ["Asia/Tehran", "Europe/Lisbon", "America/New_York", "Asia/Kolkata", "UTC"]
WORDS = [
    "protesters",
    "police",
    "convoy",
    "river",
    "bridge",
    "storm",
    "harbour",
    "council",
    "minister",
    "rain",
    "power",
    "lifeboat",
    "crew",
    "station",
    "square",
    "market",
    "school",
    "hospital",
    "road",
    "train",
    "airport",
]
SPICE = [
    "São Paulo",
    "Zürich",
    "Kraków",
    "naïve café",
    "Ελλάδα",
    "東京",
    "“quoted”",
    "5 < 6 & 7 > 3",
    "'single' & \"double\"",
    "R&D",
    "<b>bold?</b>",
    "50% — dash",
]


def generate(data: Path, stories: int, updates: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    data.mkdir(parents=True)
    (data / "site.toml").write_text(
        'title = "Benchmark desk"\nbase_url = "https://bench.example.org/"\n'
        'id_authority = "bench.example.org,2024"\nauthor = "Bench desk"\n'
        "items_per_feed = 50\n",
        encoding="utf-8",
    )
    for s in range(stories):
        zone = ZONES[s % len(ZONES)]
        lines = [
            "+++",
            f'title = "Story {s}: {rng.choice(SPICE).replace(chr(34), "")} live"',
            f'summary = "Synthetic story number {s}."',
            f'timezone = "{zone}"',
            'tags = ["bench", "synthetic"]',
            "+++",
            "",
            f"Background for story {s}: " + " ".join(rng.choices(WORDS, k=30)) + ".",
            "",
        ]
        # Newest first, ten minutes apart, in June 2024 (no DST changes then).
        for u in range(updates, 0, -1):
            minutes = u * 10
            day, rest = divmod(minutes, 24 * 60)
            stamp = f"2024-06-{1 + day:02d} {rest // 60:02d}:{rest % 60:02d}"
            title = f" — Update {u} on {rng.choice(WORDS)}" if u % 3 == 0 else ""
            paragraphs = []
            for _ in range(rng.randint(1, 3)):
                words = rng.choices(WORDS, k=rng.randint(15, 45))
                words.insert(rng.randrange(len(words)), rng.choice(SPICE))
                if rng.random() < 0.3:
                    words.insert(3, f"*{rng.choice(WORDS)}*")
                if rng.random() < 0.2:
                    words.append(f"[source](https://example.org/{s}/{u})")
                paragraphs.append(" ".join(words).capitalize() + ".")
            lines += [f"## {stamp}{title} {{#u{u}}}", "", "\n\n".join(paragraphs), ""]
        (data / f"story-{s:05d}.md").write_text("\n".join(lines), encoding="utf-8")


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd`` from a helper process so that its peak memory is its own."""
    helper = (
        "import os, resource, subprocess, sys, time, json\n"
        "t = time.monotonic()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "w = time.monotonic() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([p.returncode, w, peak, p.stdout.decode(), p.stderr.decode()[-2000:]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", helper, *cmd], env=env, capture_output=True, text=True, check=True
    )
    code, wall, peak, out, err = json.loads(done.stdout)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, peak, out


BASELINE = r"""
import re, sys
from pathlib import Path
from datetime import datetime
from zoneinfo import ZoneInfo
from feedgen.feed import FeedGenerator

data, out = Path(sys.argv[1]), Path(sys.argv[2])
items = 0
for path in sorted(data.glob("story-*.md")):
    text = path.read_text(encoding="utf-8")
    zone = ZoneInfo(re.search(r'timezone = "([^"]+)"', text)[1])
    title = re.search(r'title = "([^"]*)"', text)[1]
    fg = FeedGenerator()
    fg.id(f"tag:bench.example.org,2024:{path.stem}")
    fg.title(title)
    fg.link(href=f"https://bench.example.org/{path.stem}/", rel="alternate")
    fg.description("Synthetic")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    newest = None
    for section in sections[:50]:
        head, _, body = section.partition("\n")
        m = re.match(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}).*\{#(\S+)\}", head)
        when = datetime.fromisoformat(f"{m[1]}T{m[2]}").replace(tzinfo=zone)
        newest = newest or when
        fe = fg.add_entry(order="append")
        fe.id(f"tag:bench.example.org,2024:{path.stem}/{m[3]}")
        fe.title(head[:80])
        fe.link(href=f"https://bench.example.org/{path.stem}/#{m[3]}")
        fe.published(when)
        fe.updated(when)
        fe.content(body.strip(), type="html")
        items += 1
    fg.updated(newest)
    fg.lastBuildDate(newest)
    folder = out / path.stem
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rss.xml").write_bytes(fg.rss_str(pretty=True))
    (folder / "atom.xml").write_bytes(fg.atom_str(pretty=True))
print(items)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cold-repeats", type=int, help="repeats of the cold build [default: --repeats]"
    )
    parser.add_argument("--quick", action="store_true", help="200 x 20, and --check")
    parser.add_argument("--check", action="store_true", help="fail on a gross regression")
    parser.add_argument("--workdir", type=Path, help="where to build [default: a temp folder]")
    parser.add_argument(
        "--against",
        metavar="PYTHON",
        help="also time the cold build of the feeds installed for PYTHON (another version), "
        "in turn with this one, and print the ratio",
    )
    args = parser.parse_args()
    if args.quick:
        args.stories, args.updates, args.check = 200, 20, True
    cold_repeats = args.cold_repeats or args.repeats

    work = args.workdir or Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    data, out, state = work / "data", work / "out", work / "state"
    env = {**os.environ, "FEEDS_NOW": NOW}
    feeds = [sys.executable, "-m", "feeds"]
    build = [
        *feeds,
        "build",
        "--data",
        str(data),
        "--out",
        str(out),
        "--state",
        str(state),
        "--now",
        NOW,
        "-v",
    ]
    items = args.stories * args.updates
    print(
        f"generating {args.stories:,} stories x {args.updates} updates = {items:,} updates "
        f"in {work}",
        file=sys.stderr,
    )
    if data.exists():
        shutil.rmtree(data)
    generate(data, args.stories, args.updates)

    rows: dict[str, list[tuple[float, float]]] = {}
    problems = []

    def rendered(output: str) -> int:
        m = re.search(r"^(\d+) feed folders? rendered$", output, re.M)
        return int(m[1]) if m else -1

    other = [args.against, *build[1:]] if args.against else None
    if other:  # its own output and state, so that each cold build starts empty
        other[other.index(str(out))] = str(work / "other-out")
        other[other.index(str(state))] = str(work / "other-state")
    for _ in range(cold_repeats):
        for name, cmd in (("cold", build), ("cold other", other)):
            if cmd is None:
                continue
            shutil.rmtree(cmd[cmd.index("--out") + 1], ignore_errors=True)
            shutil.rmtree(cmd[cmd.index("--state") + 1], ignore_errors=True)
            wall, peak, _ = measure(cmd, env)
            rows.setdefault(name, []).append((wall, peak))
            print(f"{name} {wall:.2f}s", file=sys.stderr)
    for _ in range(args.repeats):
        wall, peak, output = measure(build, env)
        rows.setdefault("no-op", []).append((wall, peak))
        if rendered(output) != 0:
            problems.append(f"a no-op build rendered {rendered(output)} folders")
    for r in range(args.repeats):
        story = f"story-{(r * 37) % args.stories:05d}"
        subprocess.run(
            [
                *feeds,
                "add",
                story,
                f"Benchmark update {r} — ação & <ok>.",
                "--at",
                f"2024-06-25 0{r % 10}:00",
                "--data",
                str(data),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        wall, peak, output = measure(build, env)
        rows.setdefault("add", []).append((wall, peak))
        if rendered(output) > 2:
            problems.append(f"one feeds add re-rendered {rendered(output)} folders (expected 2)")
    for r in range(args.repeats):
        path = data / f"story-{(r * 53 + 1) % args.stories:05d}.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("\n\n", f"\n\nEdited {r}: ", 1).replace(
                "{#u1}\n\n", f"{{#u1}}\n\nEdited text {r}. ", 1
            ),
            encoding="utf-8",
        )
        wall, peak, output = measure(build, env)
        rows.setdefault("edit", []).append((wall, peak))
    for _ in range(cold_repeats):
        base_out = work / "baseline-out"
        shutil.rmtree(base_out, ignore_errors=True)
        wall, peak, _ = measure([sys.executable, "-c", BASELINE, str(data), str(base_out)], env)
        rows.setdefault("baseline", []).append((wall, peak))

    base = statistics.median(w for w, _ in rows["baseline"])
    print(
        f"\n{args.stories:,} stories x {args.updates} updates = {items:,} updates; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; whole processes, "
        f"median of {args.repeats} (cold and baseline: {cold_repeats})"
    )
    print(
        f"{'scenario':<10}{'median s':>10}{'min s':>9}{'max s':>9}{'peak MiB':>10}"
        f"{'µs/update':>11}{'x baseline':>12}"
    )
    for name in ("cold", "cold other", "no-op", "add", "edit", "baseline"):
        if name not in rows:
            continue
        walls = [w for w, _ in rows[name]]
        peak = max(p for _, p in rows[name])
        median = statistics.median(walls)
        per_item = f"{median / items * 1e6:.1f}" if name.startswith(("cold", "base")) else "-"
        print(
            f"{name:<10}{median:>10.3f}{min(walls):>9.3f}{max(walls):>9.3f}{peak:>10.0f}"
            f"{per_item:>11}{median / base:>12.3f}"
        )
    if "cold other" in rows:  # pair by pair, so that a machine whose speed drifts is fair
        pairs = [a / b for (a, _), (b, _) in zip(rows["cold"], rows["cold other"], strict=True)]
        print(
            f"cold / cold other, pair by pair: median {statistics.median(pairs):.3f} "
            f"(min {min(pairs):.3f}, max {max(pairs):.3f}); other: {args.against}"
        )
    if args.check:
        for problem in problems:
            print(f"REGRESSION: {problem}", file=sys.stderr)
        if problems:
            raise SystemExit(1)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
