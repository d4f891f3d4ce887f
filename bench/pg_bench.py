"""The PostgreSQL store: idle builds, commit-to-feed latency and build throughput with workers.

    .venv/bin/python bench/pg_bench.py                  # 10,000 x 50; live part 1,000 x 20
    .venv/bin/python bench/pg_bench.py --quick          # 200 x 20 throughout, checks, for CI
    .venv/bin/python bench/pg_bench.py --stories 2000 --updates 20 --batch 200

Starts a throwaway PostgreSQL server (tests/pgserver.py: fsync and synchronous
commit off), generates the synthetic store of build_bench.py as a folder, loads
it with `feeds store-import` (timed), and prints one report:

1. no-op builds: whole `feeds build` processes (Python start-up included)
   against the database and against the same store as a folder (--data),
   each after one cold build (timed once), repeated in turn with
   `feeds --version` (start-up alone) after one round that is not counted,
   medians with min and max; the ratio database / folder pair by pair; and
   whether the two stores built the same feeds. The round trips of one no-op
   build are counted from the server's log (log_statement=all, for that one
   process only, through PGOPTIONS): each statement is one round trip, and
   each new connection costs about two more (SSL request and start-up).
2. commit-to-feed latency with 1 and with 3 `feeds worker` processes (each
   its own --state, all publishing to one out/), under a steady stream of
   adds (--rate per second for --duration seconds per configuration, split
   over --rounds rounds taken in turn) made in this process through the
   library (Workspace.of_database + authoring.add_update) to --live-stories
   of the live store: from the moment add_update returned (its transaction
   committed) until its text is in out/<slug>/rss.xml (the file polled every
   5 ms). p50, p90, p99 and max; the workers' own build times from their logs.
3. build throughput with 1, 2 and 3 workers: --batch stories changed at once
   (one add each, made while this process holds the database's build lock,
   so that the workers see them all at the same moment; timing starts when it
   is released) until every one of their feeds holds its new update (the
   files polled every 50 ms), --batch-rounds rounds taken in turn.
   Builds take that lock, one builder at a time across the database, so
   extra workers are expected to be failover, not throughput: measured here.
Then the round trips of one add_update and of the worker builds that follow
it (3 workers, each logged), and the size of the build state in the database
(and of the part every build writes again, which the other workers fetch).

The load averages before and after each part are printed too: the machine
may be shared, and the figures are only as quiet as it was. --parts runs
some of the parts (e.g. --parts 23).

The live parts (2, 3) use their own store (--live-stories x --live-updates,
1,000 x 20 by default: builds of a realistic size, a fresh database) unless it
has the same size as part 1's. Workers get SIGTERM at the end of each
configuration (then SIGKILL after 15 s), and everything is stopped and
removed at the end, on errors and on Ctrl-C too.

With --check (on in --quick) it exits 1 on a gross failure: a no-op build
that renders anything, an add no worker published within 10 s, a batch not
published within its timeout, a worker that died, or feeds built from the
database that differ from those built from the folder.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from build_bench import NOW, generate

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from pgserver import PgServer  # noqa: E402

PUBLISH_TIMEOUT = 10.0  # an add not in its feed by then is a failure
COUNT_APP = "feeds-bench-count"  # application_name of the processes whose statements count
LOG_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\S*) LOG:  (?:statement|execute [^:]*): (.*)$")


# --- processes --------------------------------------------------------------


class Problems(list[str]):
    def add(self, text: str) -> None:
        print(f"PROBLEM: {text}", file=sys.stderr)
        self.append(text)


def timed(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> tuple[float, float, str]:
    """Wall time, peak MiB and stdout of one whole process, run from a helper process
    so that its peak memory is its own (as build_bench.py); killed after ``timeout``."""
    helper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.monotonic()\n"
        f"p = subprocess.run(sys.argv[1:], capture_output=True, timeout={timeout!r})\n"
        "w = time.monotonic() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([p.returncode, w, peak, p.stdout.decode(), p.stderr.decode()[-3000:]]))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", helper, *cmd],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{' '.join(cmd[:4])} ... took more than {timeout:.0f}s") from None
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{done.stderr[-3000:]}")
    code, wall, peak, out, err = json.loads(done.stdout)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {code}:\n{err}")
    return wall, peak, out


def rendered(output: str) -> int:
    m = re.search(r"^(\d+) feed folders? rendered$", output, re.M)
    return int(m[1]) if m else -1


class Workers:
    """`feeds worker` processes, each in a process group of its own (its build's pool too)."""

    def __init__(self, url: str, out: Path, work: Path, env: dict[str, str]) -> None:
        self.url, self.out, self.work, self.env = url, out, work, env
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.started = 0

    def start(self, n: int, extra_env: dict[str, str] | None = None, tag: str = "") -> None:
        for i in range(n):
            self.started += 1
            log = self.work / "logs" / f"worker{i + 1}-{self.started:03d}{tag}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            env = dict(self.env)
            if extra_env:
                env.update({k: v.format(i=i + 1) for k, v in extra_env.items()})
            cmd = [
                sys.executable,
                "-m",
                "feeds",
                "worker",
                "--store",
                self.url,
                "--out",
                str(self.out),
                "--state",
                str(self.work / f"state-worker{i + 1}"),
                "--interval",
                "60",
                "-v",
            ]
            with open(log, "wb") as f:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.work,
                    start_new_session=True,
                )
            self.procs.append((proc, log))
        self.wait_ready()

    def logs(self) -> list[str]:
        return [log.read_text(errors="replace") for _, log in self.procs]

    def check_alive(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise WorkerDied(f"worker {proc.pid} exited with {proc.returncode}:\n{tail}")

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Until each has finished its first build (logged with -v even if idle)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            logs = self.logs()
            for text in logs:
                error = re.search(r"^\S+ error: .*$", text, re.M)
                if error:  # the bench's workers should never meet one
                    raise WorkerDied(f"a worker failed before its first build: {error[0]}")
            if all(re.search(r" (built|checked) in ", text) for text in logs):
                return
            if time.monotonic() > deadline:
                raise WorkerDied(f"workers not ready after {timeout:.0f}s")
            time.sleep(0.05)

    def settle(self, quiet: float = 1.0, timeout: float = 60.0) -> None:
        """Until nobody holds the build lock and no worker has logged anything for
        ``quiet`` seconds: their last builds (logged after the state is saved, well
        after publishing) and the other workers' checks are in."""
        import psycopg

        from feeds.store.postgres import LOCK_BUILD, LOCK_SPACE

        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                self.check_alive()
                size = sum(log.stat().st_size for _, log in self.procs)
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2",
                    (LOCK_SPACE, LOCK_BUILD),
                ).fetchone()
                busy = bool(row and row[0])
                if size != last or busy:
                    last, since = size, time.monotonic()
                elif time.monotonic() - since >= quiet:
                    return
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM each, then SIGKILL its process group after 15 s; what is left of the
        group (a build's pool) is killed too."""
        for proc, _ in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc, _ in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"worker {proc.pid} ignored SIGTERM for 15s: killed", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own group: start_new_session
            proc.wait()
        self.procs = []


class WorkerDied(Exception):
    pass


def build_lines(texts: list[str]) -> tuple[list[float], list[float], list[str]]:
    """From worker logs: durations of builds that changed something, of idle checks, summaries."""
    built, checked, summaries = [], [], []
    for text in texts:
        for m in re.finditer(r" built in ([\d.]+)s: (.*)$", text, re.M):
            built.append(float(m[1]))
            summaries.append(m[2])
        checked += [float(x) for x in re.findall(r" checked in ([\d.]+)s", text)]
    return built, checked, summaries


# --- watching the feeds ----------------------------------------------------------


class Watcher(threading.Thread):
    """Polls out/<slug>/rss.xml of the stories with an add pending; notes when each add's
    text appears. The file is read only when its stat changed (or a new add came)."""

    def __init__(self, out: Path, interval: float) -> None:
        super().__init__(daemon=True)
        self.out, self.interval = out, interval
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[str, bytes, float]] = {}  # key -> slug, needle, t0
        self.seen: dict[str, float] = {}  # key -> latency (s)
        self.first: float | None = None  # when the first was seen
        self.dirty: set[str] = set()
        self.sigs: dict[str, tuple[int, int, int]] = {}
        self.done = threading.Event()

    def expect(self, key: str, slug: str, needle: str, t0: float) -> None:
        with self.lock:
            self.pending[key] = (slug, needle.encode(), t0)
            self.dirty.add(slug)

    def retime(self, t0: float) -> None:
        """Measure everything pending from ``t0`` (throughput: from the lock's release)."""
        with self.lock:
            self.pending = {k: (s, n, t0) for k, (s, n, _) in self.pending.items()}

    def outstanding(self) -> int:
        with self.lock:
            return len(self.pending)

    def run(self) -> None:
        while not self.done.is_set():
            with self.lock:
                items = list(self.pending.items())
                dirty, self.dirty = self.dirty, set()
            by_slug: dict[str, list[tuple[str, bytes, float]]] = {}
            for key, (slug, needle, t0) in items:
                by_slug.setdefault(slug, []).append((key, needle, t0))
            for slug, waiting in by_slug.items():
                path = self.out / slug / "rss.xml"
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                sig = (st.st_ino, st.st_mtime_ns, st.st_size)
                if sig == self.sigs.get(slug) and slug not in dirty:
                    continue
                self.sigs[slug] = sig
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                now = time.perf_counter()
                with self.lock:
                    for key, needle, t0 in waiting:
                        if needle in data and key in self.pending:
                            del self.pending[key]
                            self.seen[key] = now - t0
                            self.first = self.first or now
            time.sleep(self.interval)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.outstanding() and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.outstanding()


# --- the server's statement log ---------------------------------------------------------


def log_size(pg: PgServer) -> int:
    return int(pg.log_path.stat().st_size)


def statements(pg: PgServer, start: int, app_prefix: str) -> dict[str, tuple[list[str], set[int]]]:
    """Statements logged since ``start`` by sessions whose application_name starts so:
    per application name, the statements (whitespace collapsed) and the backends."""
    with open(pg.log_path, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    entries: list[str] = []
    for line in text.splitlines():
        if line[:1].isspace() and entries:  # a statement's next line
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    found: dict[str, tuple[list[str], set[int]]] = {}
    for entry in entries:
        m = LOG_LINE.match(entry)
        if m and m[2].startswith(app_prefix):
            sql, pids = found.setdefault(m[2], ([], set()))
            sql.append(" ".join(m[3].split()))
            pids.add(int(m[1]))
    return found


def counting_env(app: str) -> dict[str, str]:
    # Superuser settings for these sessions only (the bench cluster trusts user postgres).
    return {"PGOPTIONS": "-c log_statement=all", "PGAPPNAME": app}


# --- statistics -----------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def fmt_ms(values: list[float], q: float) -> str:
    return f"{pct(values, q) * 1000:.0f}" if values else "-"


def compare_outputs(a: Path, b: Path, stories: int) -> tuple[list[str], str]:
    """Files that differ between two out/ folders: all folders when small, else a sample."""
    names = sorted(p.name for p in a.iterdir() if p.is_dir())
    step = max(1, len(names) // 100) if stories > 1000 else 1
    chosen = names[::step]
    differ: list[str] = []

    def walk(x: Path, y: Path, rel: str) -> None:
        cmp = filecmp.dircmp(x, y)
        differ.extend(f"{rel}{n}" for n in cmp.left_only + cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(x, y, cmp.common_files, shallow=False)
        differ.extend(f"{rel}{n}" for n in mismatch + errors)
        for d in cmp.common_dirs:
            walk(x / d, y / d, f"{rel}{d}/")

    cmp = filecmp.dircmp(a, b)
    differ.extend(cmp.left_only + cmp.right_only)
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    differ.extend(mismatch + errors)
    for name in chosen:
        if (b / name).is_dir():
            walk(a / name, b / name, f"{name}/")
    what = (
        "every folder" if step == 1 else f"the site files and {len(chosen)} of {len(names)} folders"
    )
    return differ, what


# --- the parts ------------------------------------------------------------------------


def part_noop(
    args: argparse.Namespace,
    pg: PgServer,
    url: str,
    work: Path,
    env: dict[str, str],
    problems: Problems,
    report: list[str],
) -> None:
    data = work / "data"
    feeds = [sys.executable, "-m", "feeds"]
    folder_build = [
        *feeds,
        "build",
        "--data",
        str(data),
        "--out",
        str(work / "out-folder"),
        "--state",
        str(work / "state-folder"),
        "--now",
        NOW,
        "-v",
    ]
    pg_build = [
        *feeds,
        "build",
        "--store",
        url,
        "--out",
        str(work / "out-pg"),
        "--state",
        str(work / "state-pg"),
        "--now",
        NOW,
        "-v",
    ]
    version = [*feeds, "--version"]
    long = args.step_timeout

    rows: dict[str, list[tuple[float, float]]] = {}
    wall, peak, out = timed(
        [*feeds, "store-import", str(data), "--store", url, "--state", str(work / "no-state")],
        env,
        work,
        long,
    )
    rows["store-import"] = [(wall, peak)]
    report.append(f"store-import: {out.strip()}")
    log(f"store-import {wall:.1f}s")
    for name, cmd in (("cold, folder", folder_build), ("cold, PostgreSQL", pg_build)):
        wall, peak, out = timed(cmd, env, work, long)
        rows[name] = [(wall, peak)]
        log(f"{name} {wall:.1f}s ({rendered(out)} folders)")
    pairs = []
    # Round 0 is not counted: it warms the caches, and a folder build within 2 s of a
    # story file's change reads it again on the next build (feeds.store.files.RACY_NS):
    # in --quick the cold build comes that soon after the store was generated.
    for r in range(args.repeats + 1):
        order = [
            ("feeds --version", version),
            ("no-op, folder", folder_build),
            ("no-op, PostgreSQL", pg_build),
        ]
        if r % 2:
            order.reverse()
        got = {}
        for name, cmd in order:
            wall, peak, out = timed(cmd, env, work, 300)
            got[name] = wall
            if r:
                rows.setdefault(name, []).append((wall, peak))
            if name.startswith("no-op") and rendered(out) != 0:
                problems.add(f"{name}: a no-op build rendered {rendered(out)} folders")
        if r:
            pairs.append(got["no-op, PostgreSQL"] / got["no-op, folder"])
        log(f"no-op round {r}: " + ", ".join(f"{k} {v:.3f}s" for k, v in got.items()))

    # Round trips of one more no-op build, its statements logged by the server.
    start = log_size(pg)
    timed(pg_build, {**env, **counting_env(COUNT_APP)}, work, 300)
    time.sleep(0.5)  # the backend logs as it ends
    counted = statements(pg, start, COUNT_APP).get(COUNT_APP, ([], set()))

    items = args.stories * args.updates
    report.append(
        f"{'scenario':<22}{'median s':>10}{'min s':>9}{'max s':>9}{'peak MiB':>10}{'runs':>6}"
    )
    for name in (
        "store-import",
        "cold, folder",
        "cold, PostgreSQL",
        "feeds --version",
        "no-op, folder",
        "no-op, PostgreSQL",
    ):
        walls = [w for w, _ in rows[name]]
        report.append(
            f"{name:<22}{statistics.median(walls):>10.3f}{min(walls):>9.3f}{max(walls):>9.3f}"
            f"{max(p for _, p in rows[name]):>10.0f}{len(walls):>6}"
        )
    base = statistics.median(w for w, _ in rows["feeds --version"])
    report.append(
        f"no-op PostgreSQL / no-op folder, pair by pair: median {statistics.median(pairs):.3f} "
        f"(min {min(pairs):.3f}, max {max(pairs):.3f}); minus start-up: folder "
        f"{statistics.median(w for w, _ in rows['no-op, folder']) - base:.3f}s, PostgreSQL "
        f"{statistics.median(w for w, _ in rows['no-op, PostgreSQL']) - base:.3f}s"
    )
    per = statistics.median(w for w, _ in rows["store-import"]) / items * 1e6
    report.append(f"store-import: {per:.0f} µs per update ({items:,} updates, one process, once)")
    sql, pids = counted
    report.append(
        f"round trips of a no-op PostgreSQL build: {len(sql)} statements on {len(pids)} "
        f"connection{'' if len(pids) == 1 else 's'} (+ ~2 per connection to connect):"
    )
    report += [f"    {s[:100]}" for s in sql]
    differ, what = compare_outputs(work / "out-folder", work / "out-pg", args.stories)
    if differ:
        problems.add(f"folder and PostgreSQL builds differ ({what}): {differ[:5]}")
        report.append(f"outputs: {len(differ)} files differ ({what}), e.g. {differ[:5]}")
    else:
        report.append(f"outputs: the folder and the PostgreSQL builds are identical ({what})")


class Live:
    """The live store: its database, out/, an authoring workspace in this process."""

    def __init__(
        self,
        args: argparse.Namespace,
        pg: PgServer,
        url: str,
        out: Path,
        work: Path,
        worker_env: dict[str, str],
        problems: Problems,
    ) -> None:
        from feeds.settings import Workspace

        self.args, self.pg, self.url, self.out, self.work = args, pg, url, out, work
        self.problems = problems
        self.ws = Workspace.of_database(url, work / "author-out", work / "author-state")
        self.workers = Workers(url, out, work, worker_env)
        self.n = 0

    def add(self, slug: str, tag: str, ws: Any = None) -> tuple[str, float]:
        """One update through the library; its needle and when add_update returned."""
        from feeds.authoring import add_update

        self.n += 1
        needle = f"zq{tag}n{self.n}zq"
        add_update(
            ws or self.ws,
            slug,
            f"Bench probe {needle} from the desk.",
            at=None,
            now=datetime.now(UTC),
            anchor=f"bench-{tag}-{self.n}",
        )
        return needle, time.perf_counter()

    def latency(self, workers: int, seconds: float, phase: int) -> dict[str, Any]:
        args = self.args
        self.workers.start(workers)
        first_log = [len(t) for t in self.workers.logs()]
        watcher = Watcher(self.out, 0.005)
        watcher.start()
        slugs = [
            f"story-{(phase * args.live_slugs + i) % args.live_stories:05d}"
            for i in range(args.live_slugs)
        ]
        adds, took = int(args.rate * seconds), []
        begin = time.perf_counter()
        try:
            for i in range(adds):
                wait = begin + i / args.rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t = time.perf_counter()
                needle, t0 = self.add(slugs[i % len(slugs)], f"l{phase}")
                took.append(t0 - t)
                watcher.expect(needle, slugs[i % len(slugs)], needle, t0)
                self.workers.check_alive()
            achieved = adds / (time.perf_counter() - begin)
            watcher.wait(PUBLISH_TIMEOUT)
        finally:
            watcher.done.set()
            watcher.join()
        self.workers.settle()
        logs = [t[n:] for t, n in zip(self.workers.logs(), first_log, strict=True)]
        self.workers.stop()
        if watcher.pending:
            self.problems.add(
                f"{len(watcher.pending)} of {adds} adds not published within "
                f"{PUBLISH_TIMEOUT:.0f}s ({workers} worker(s))"
            )
        built, checked, _ = build_lines(logs)
        self.report_errors(logs)
        return dict(
            lat=list(watcher.seen.values()),
            missing=len(watcher.pending),
            adds=adds,
            add_s=took,
            rate=achieved,
            built=built,
            checked=checked,
        )

    def throughput(self, workers: int, phase: int) -> dict[str, Any]:
        import psycopg

        from feeds.store.postgres import LOCK_BUILD, LOCK_SPACE

        args = self.args
        self.workers.start(workers)
        first_log = [len(t) for t in self.workers.logs()]
        watcher = Watcher(self.out, 0.05)
        n = args.batch
        offset = (phase * n) % args.live_stories
        slugs = [f"story-{(offset + i) % args.live_stories:05d}" for i in range(n)]
        timeout = max(120.0, n * 1.0)
        try:
            with psycopg.connect(self.url, autocommit=True) as lock:
                lock.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, LOCK_BUILD))
                t = time.perf_counter()
                for slug in slugs:
                    needle, t0 = self.add(slug, f"t{phase}")
                    watcher.expect(needle, slug, needle, t0)
                adding = time.perf_counter() - t
                watcher.start()
                t0 = time.perf_counter()
                watcher.retime(t0)
                lock.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, LOCK_BUILD))
            ok = watcher.wait(timeout)
        finally:
            watcher.done.set()
            if watcher.is_alive():
                watcher.join()
        self.workers.settle()
        logs = [t[k:] for t, k in zip(self.workers.logs(), first_log, strict=True)]
        self.workers.stop()
        if not ok:
            self.problems.add(
                f"{watcher.outstanding()} of {n} stories not published within {timeout:.0f}s "
                f"({workers} worker(s))"
            )
        last = max(watcher.seen.values()) if watcher.seen else float("nan")
        first = (watcher.first - t0) if watcher.first else float("nan")
        built, checked, summaries = build_lines(logs)
        self.report_errors(logs)
        return dict(
            n=n,
            all=last,
            first=first,
            adding=adding,
            built=built,
            checked=checked,
            summaries=summaries,
            missing=watcher.outstanding(),
        )

    def report_errors(self, logs: list[str]) -> None:
        errors = [m[0] for text in logs for m in re.finditer(r"^\S+ error: .*$", text, re.M)]
        if errors:
            self.problems.add(f"{len(errors)} worker error(s), the first: {errors[0]}")

    def round_trips(self, report: list[str]) -> None:
        """Statements of one add_update, and of the worker builds it starts (3 workers)."""
        from feeds.settings import Workspace

        saved = {k: os.environ.get(k) for k in ("PGOPTIONS", "PGAPPNAME")}
        os.environ.update(counting_env(f"{COUNT_APP}-add"))
        try:  # libpq reads them when this workspace's store connects
            ws = Workspace.of_database(
                self.url, self.work / "author-out", self.work / "author-state"
            )
            self.add("story-00001", "c0", ws)  # connects
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.workers.start(3, counting_env(f"{COUNT_APP}-w{{i}}"), tag="-count")
        try:
            start = log_size(self.pg)
            watcher = Watcher(self.out, 0.005)
            watcher.start()
            needle, t0 = self.add("story-00001", "c1", ws)
            watcher.expect(needle, "story-00001", needle, t0)
            if not watcher.wait(PUBLISH_TIMEOUT):
                self.problems.add(f"an add was not published within {PUBLISH_TIMEOUT:.0f}s")
            watcher.done.set()
            self.workers.settle()  # the other workers take the lock in turn after the builder
            found = statements(self.pg, start, COUNT_APP)
        finally:
            self.workers.stop()
            ws.store.close()  # type: ignore[attr-defined]
        add_sql = found.pop(f"{COUNT_APP}-add", ([], set()))[0]
        report.append(
            f"round trips of one add_update (its connection open): {len(add_sql)} statements:"
        )
        report += [f"    {s[:100]}" for s in add_sql]
        per = sorted(((len(sql), app) for app, (sql, _) in found.items()), reverse=True)
        report.append(
            "round trips of the worker builds after it, 3 workers: "
            + ", ".join(f"{n} statements" for n, _ in per)
            + f" (total {sum(n for n, _ in per)}); the builder's:"
        )
        if per:
            report += [f"    {s[:100]}" for s in found[per[0][1]][0]]
        if len(per) > 1:
            report.append("  one of the others':")
            report += [f"    {s[:100]}" for s in found[per[1][1]][0]]
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            rows, size, shared = conn.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(length(body)) "
                "FILTER (WHERE name IN ('index.json', 'site.json')), 0) FROM build_state"
            ).fetchone()  # type: ignore[misc]
        report.append(
            f"build_state: {rows:,} rows, {size / 1e6:.1f} MB in all; index.json and "
            f"site.json, which every build that changes something writes again (and each "
            f"other worker then fetches): {shared / 1e6:.1f} MB"
        )


def part_live(
    args: argparse.Namespace,
    pg: PgServer,
    url: str,
    work: Path,
    env: dict[str, str],
    problems: Problems,
    report: list[str],
) -> None:
    worker_env = {k: v for k, v in env.items() if k not in ("FEEDS_NOW", "PGOPTIONS", "PGAPPNAME")}
    same = (args.live_stories, args.live_updates) == (args.stories, args.updates)
    report.append("")
    if same and "1" in args.parts:
        live_url, out = url, work / "out-pg"  # part 1's store and output, built already
        report.append(
            f"Live store (parts 2, 3): part 1's ({args.live_stories:,} x {args.live_updates})"
        )
    else:
        data = work / "data" if same else work / "live-data"
        if not same or not data.exists():
            generate(data, args.live_stories, args.live_updates)
        live_url = pg.create_database("live")
        out = work / "out-live"
        feeds = [sys.executable, "-m", "feeds"]
        imp, _, _ = timed(
            [
                *feeds,
                "store-import",
                str(data),
                "--store",
                live_url,
                "--state",
                str(work / "no-state"),
            ],
            env,
            work,
            args.step_timeout,
        )
        cold, _, _ = timed(
            [
                *feeds,
                "build",
                "--store",
                live_url,
                "--out",
                str(out),
                "--state",
                str(work / "state-live"),
            ],
            worker_env,
            work,
            args.step_timeout,
        )
        report.append(
            f"Live store (parts 2, 3): {args.live_stories:,} stories x {args.live_updates} updates "
            f"= {args.live_stories * args.live_updates:,}, a database of its own: store-import "
            f"{imp:.1f}s, cold build {cold:.1f}s"
        )
    live = Live(args, pg, live_url, out, work, worker_env, problems)
    phase = 0  # each phase adds to other stories

    def in_turn(
        configs: list[int], run: Callable[[int, int], dict[str, Any]], rounds: int
    ) -> dict[int, list[dict[str, Any]]]:
        nonlocal phase
        got: dict[int, list[dict[str, Any]]] = {k: [] for k in configs}
        for r in range(rounds):
            for k in configs if r % 2 == 0 else configs[::-1]:
                got[k].append(run(k, phase))
                phase += 1
        return got

    try:
        if "2" in args.parts:
            per_round = args.duration / args.rounds

            def latency(k: int, phase: int) -> dict[str, Any]:
                log(f"latency: {k} worker(s), {per_round:g}s at {args.rate:g}/s; load {load()}")
                run = live.latency(k, per_round, phase)
                got = run["lat"]
                log(f"  p50 {fmt_ms(got, 50)} ms, p99 {fmt_ms(got, 99)} ms, n={len(got)}")
                return run

            before = load()
            report_latency(args, in_turn([1, 3], latency, args.rounds), per_round, report)
            report.append(f"load average (1/5 min) before part 2: {before}, after: {load()}")
        if "3" in args.parts:

            def throughput(k: int, phase: int) -> dict[str, Any]:
                log(f"throughput: {k} worker(s), {args.batch} stories; load {load()}")
                run = live.throughput(k, phase)
                log(
                    f"  all published {run['all']:.2f}s after the release; "
                    f"adds took {run['adding']:.1f}s"
                )
                return run

            before = load()
            report_throughput(args, in_turn([1, 2, 3], throughput, args.batch_rounds), report)
            report.append(f"load average (1/5 min) before part 3: {before}, after: {load()}")
        report.append("")
        live.round_trips(report)
    finally:
        live.workers.stop()
        live.ws.store.close()  # type: ignore[attr-defined]


def report_latency(
    args: argparse.Namespace,
    lat: dict[int, list[dict[str, Any]]],
    per_round: float,
    report: list[str],
) -> None:
    report.append("")
    report.append(
        f"2. Commit-to-feed latency: {args.rate:g} adds/s for {args.duration:g}s per "
        f"configuration ({args.rounds} round(s) of {per_round:g}s, taken in turn) to "
        f"{args.live_slugs} stories; from add_update's return to its text in out/<slug>/rss.xml"
    )
    report.append(
        f"{'workers':<8}{'adds':>6}{'late':>6}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'add ms':>8}{'builds':>8}{'build s':>9}{'checks':>8}{'check s':>9}"
    )
    for k, runs in lat.items():
        values = [v for r in runs for v in r["lat"]]
        built = [v for r in runs for v in r["built"]]
        checked = [v for r in runs for v in r["checked"]]
        adds = [v for r in runs for v in r["add_s"]]
        report.append(
            f"{k:<8}{sum(r['adds'] for r in runs):>6}{sum(r['missing'] for r in runs):>6}"
            f"{fmt_ms(values, 50):>8}{fmt_ms(values, 90):>8}{fmt_ms(values, 99):>8}"
            f"{fmt_ms(values, 100):>8}{fmt_ms(adds, 50):>8}{len(built):>8}"
            f"{statistics.median(built) if built else 0:>9.3f}{len(checked):>8}"
            f"{statistics.median(checked) if checked else 0:>9.3f}"
        )
    rates = [r["rate"] for runs in lat.values() for r in runs]
    report.append(
        f"  late: not published within {PUBLISH_TIMEOUT:g}s; add ms: median time of one "
        "add_update; builds / checks: worker builds that published something / found nothing "
        "to do, and their median duration as the workers log it (waiting for the build lock "
        f"included); adds made at {min(rates):.2f} to {max(rates):.2f}/s"
    )


def report_throughput(
    args: argparse.Namespace, thr: dict[int, list[dict[str, Any]]], report: list[str]
) -> None:
    report.append("")
    report.append(
        f"3. Build throughput: {args.batch} stories changed at once (one add each, made while "
        "this process held the build lock), from the lock's release until every one of their "
        f"feeds holds its update; {args.batch_rounds} round(s), taken in turn"
    )
    report.append(
        f"{'workers':<8}{'all s':>8}{'min s':>8}{'max s':>8}{'stories/s':>11}"
        f"{'first s':>9}{'builds':>8}{'build s':>9}{'checks':>8}"
    )
    for k, runs in thr.items():
        alls = [r["all"] for r in runs]
        built = [v for r in runs for v in r["built"]]
        report.append(
            f"{k:<8}{statistics.median(alls):>8.2f}{min(alls):>8.2f}{max(alls):>8.2f}"
            f"{args.batch / statistics.median(alls):>11.1f}"
            f"{statistics.median(r['first'] for r in runs):>9.2f}{len(built):>8}"
            f"{statistics.median(built) if built else 0:>9.2f}"
            f"{sum(len(r['checked']) for r in runs):>8}"
        )
        for r in runs:
            for line in r["summaries"]:
                report.append(f"    a worker built: {line}")
    adding = [r["adding"] for runs in thr.values() for r in runs]
    report.append(
        "  all s: median (min, max) until the last feed had its update; stories/s: the batch "
        "over the median; first s: until the first feed had its update; builds, build s, "
        "checks: as in part 2 (build s includes the time spent waiting for the lock while "
        f"the adds were made); the {args.batch} add_update calls, one transaction each, took "
        f"a median {statistics.median(adding):.2f}s ({args.batch / statistics.median(adding):.0f} "
        "adds/s)"
    )


def load() -> str:
    """The load averages (1, 5 min): how busy the machine was, others' work included."""
    try:
        one, five = Path("/proc/loadavg").read_text().split()[:2]
    except OSError:
        return "?"
    return f"{one}/{five}"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def describe_code() -> tuple[str, str]:
    """The commit (to show), and what feeds/ holds (its tree and any uncommitted changes):
    a commit elsewhere in the repository does not change the second."""
    import hashlib

    def git(*cmd: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *cmd], capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip()

    try:
        head, tree = git("rev-parse", "--short", "HEAD"), git("rev-parse", "HEAD:feeds")
        changes = git("status", "--porcelain", "feeds") and git("diff", "HEAD", "--", "feeds")
    except (OSError, subprocess.SubprocessError):
        return "unknown commit", ""
    if not changes:
        return head, tree
    digest = hashlib.sha1(changes.encode()).hexdigest()[:8]
    return f"{head} + uncommitted changes in feeds/ ({digest})", f"{tree} {digest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=10_000, help="part 1's store")
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7, help="no-op builds of each kind")
    parser.add_argument("--live-stories", type=int, default=1000, help="parts 2 and 3's store")
    parser.add_argument("--live-updates", type=int, default=20)
    parser.add_argument("--live-slugs", type=int, default=10, help="stories the adds go to")
    parser.add_argument("--rate", type=float, default=5.0, help="adds per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per configuration")
    parser.add_argument("--rounds", type=int, default=2, help="of each configuration, in turn")
    parser.add_argument("--batch", type=int, default=500, help="stories changed at once")
    parser.add_argument(
        "--batch-rounds", type=int, default=3, help="of each configuration of part 3, in turn"
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=1800.0,
        help="seconds for a generation, import or cold build",
    )
    parser.add_argument("--parts", default="123", help="which parts to run, e.g. 23")
    parser.add_argument("--quick", action="store_true", help="200 x 20 throughout, and --check")
    parser.add_argument("--check", action="store_true", help="exit 1 on a gross failure")
    parser.add_argument("--workdir", type=Path, help="kept afterwards [default: a temp folder]")
    args = parser.parse_args()
    if args.quick:  # what is not given on the command line
        args.check = True
        quick = dict(
            stories=200,
            updates=20,
            live_stories=200,
            live_updates=20,
            repeats=5,
            duration=8.0,
            rounds=1,
            batch=100,
            batch_rounds=1,
            step_timeout=300.0,
        )
        for name, value in quick.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    args.live_slugs = min(args.live_slugs, args.live_stories)
    args.batch = min(args.batch, args.live_stories)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"--workdir {args.workdir}: not empty (cold builds start from nothing)")
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="feeds-pgbench-"))).absolute()
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "FEEDS_"))}
    env["FEEDS_NOW"] = NOW
    problems = Problems()
    report: list[str] = []
    pg = None
    code, feeds_now = describe_code()  # workers start later and import what is there then
    try:
        log(f"starting PostgreSQL; work in {work}")
        pg = PgServer.start(settings={"log_line_prefix": "'%m [%p] %a '"})
        url = pg.create_database("bench")
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            server = conn.execute("SELECT version()").fetchone()[0]  # type: ignore[index]
        items = args.stories * args.updates
        if "1" in args.parts:
            log(f"generating {args.stories:,} x {args.updates} = {items:,} updates")
            t = time.monotonic()
            generate(work / "data", args.stories, args.updates)
            log(f"generated in {time.monotonic() - t:.1f}s")
        report.append(
            f"{os.cpu_count()} CPUs; {server.split(' on ')[0]}; Python {sys.version.split()[0]}; "
            f"psycopg {psycopg.__version__}; feeds at {code}"
        )
        if "1" in args.parts:
            report.append(
                f"1. No-op build, {args.stories:,} stories x {args.updates} updates = {items:,} "
                f"updates: whole processes, median of {args.repeats} in turn after one round not "
                "counted (cold: once)"
            )
            before = load()
            part_noop(args, pg, url, work, env, problems, report)
            report.append(f"load average (1/5 min) before part 1: {before}, after: {load()}")
        if "2" in args.parts or "3" in args.parts:
            part_live(args, pg, url, work, env, problems, report)
    except WorkerDied as exc:
        problems.add(str(exc))
    except KeyboardInterrupt:
        print("interrupted: stopping the workers and the server", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if pg is not None:
            pg.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        code_after, feeds_after = describe_code()
        if feeds_after != feeds_now:
            report.append(f"WARNING: feeds/ changed during the run: {code} -> {code_after}")
        print("\n" + "\n".join(report))
        print(f"\n(the whole benchmark took {time.monotonic() - started:.0f}s)")
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(f"  {p}" for p in problems))
        if args.check:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
