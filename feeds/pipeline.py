"""One build, end to end: lock, read, reconcile, render what changed, publish.

This is what ``feeds build`` (and cron) runs. The stages below it are pure or
do one kind of I/O each; this module owns their order and the guarantees that
come from it:

* **Validated first.** The whole store is read and checked before anything is
  written; bad input raises StoreError and leaves ``out/`` and the state alone.
* **One at a time.** An exclusive lock in the state folder serialises builds.
* **Incremental.** A feed folder whose digest matches the last build's, and
  whose files are still there at the recorded size, is not rendered again.
* **Idempotent.** Files are written only when their bytes change; a build with
  nothing new writes nothing at all, not even the state.
* **Crash-safe.** Files are replaced atomically; a marker file records that
  publishing began, and a build that finds it (the last one was killed)
  re-renders everything and sweeps temporary files, repairing ``out/``.
* **Cheap when idle.** Before reading any story, the build compares the store's
  file stats, the clock and the output files with ``index.json``; if nothing
  moved it stops there, without importing the renderers (cron runs this every
  minute).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .lock import build_lock
from .parallel import ordered_map
from .publish import prepare_folders, publish, remove_files, sweep_temporary_files
from .state import STATE_FILE, BuildState, Stat, load_index, load_state, save_state
from .timeutil import Clock, require_aware, system_clock

if TYPE_CHECKING:
    from .build import Folder

DIRTY_MARKER = "publishing"


def default_state_dir(data_dir: Path) -> Path:
    """``.feeds/`` beside the store: outside ``out/`` and outside ``data/``."""
    return data_dir.absolute().parent / ".feeds"


@dataclass
class BuildResult:
    now: datetime
    stories_changed: list[str] = field(default_factory=list)  # slugs rendered, added or removed
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)  # feed folders rendered
    unchanged: int = 0
    next_due: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)

    def summary(self) -> str:
        n = len(self.stories_changed)
        return (
            f"{n} stor{'y' if n == 1 else 'ies'} changed, "
            f"{len(self.written)} file{'' if len(self.written) == 1 else 's'} written, "
            f"{len(self.removed)} removed"
        )


def run_build(
    data_dir: Path,
    out_dir: Path,
    state_dir: Path | None = None,
    *,
    clock: Clock = system_clock,
    force: bool = False,
    wait: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Bring ``out_dir`` up to date with ``data_dir``; see the module docstring.

    ``progress(done, total)`` is called after each feed folder is rendered.
    """
    state_dir = state_dir or default_state_dir(data_dir)
    with build_lock(state_dir, wait):
        now = require_aware(clock(), "clock()")
        sources = source_stats(data_dir)  # before reading: a later change is seen next time
        if not force:
            idle = _nothing_to_do(sources, out_dir, state_dir, now)
            if idle is not None:
                return BuildResult(now=now, unchanged=idle)
        return _build(data_dir, out_dir, state_dir, now, sources, force, progress)


def source_stats(data_dir: Path) -> dict[str, Stat]:
    """mtime, size and inode of site.toml and every file named like a story."""
    stats: dict[str, Stat] = {}
    try:
        entries = list(os.scandir(data_dir))
    except OSError:
        return stats
    for entry in entries:
        name = entry.name
        if name == "site.toml" or (
            name.lower().endswith((".md", ".markdown")) and not name.startswith(("_", "."))
        ):
            try:
                st = entry.stat()
            except OSError:
                continue
            stats[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return stats


def _nothing_to_do(
    sources: dict[str, Stat], out_dir: Path, state_dir: Path, now: datetime
) -> int | None:
    """The number of output files if the last build's output is still exactly right."""
    index = load_index(state_dir)
    if index is None or not index.sources or index.sources != sources:
        return None
    if (state_dir / DIRTY_MARKER).exists():
        return None
    if index.next_event is not None and now >= index.next_event:
        return None  # an embargo ends or a tombstone expires
    try:
        if (state_dir / STATE_FILE).stat().st_size != index.state_size:
            return None
    except OSError:
        return None
    prefix = str(out_dir) + os.sep
    for name, size in index.outputs.items():
        try:
            if os.stat(prefix + name).st_size != size:
                return None
        except OSError:
            return None
    return len(index.outputs)


def _build(
    data_dir: Path,
    out_dir: Path,
    state_dir: Path,
    now: datetime,
    sources: dict[str, Stat],
    force: bool,
    progress: Callable[[int, int], None] | None,
) -> BuildResult:
    # Imported here: an idle build never needs them (see _nothing_to_do).
    from .build import folder_key, plan
    from .history import reconcile
    from .store import FileStore
    from .websub import ping

    snapshot = FileStore(data_dir).load(cache_dir=state_dir / "cache")
    previous, warning = load_state(state_dir)
    result = BuildResult(now=now, warnings=[warning] if warning else [])
    marker = state_dir / DIRTY_MARKER
    if marker.exists():
        result.repaired = True
        force = True
        sweep_temporary_files(out_dir)
    reconciled = reconcile(snapshot, previous.history, now, snapshot.site.tombstone_days)
    result.next_due = reconciled.next_due
    folders = plan(reconciled.snapshot, reconciled.tombstones)
    state = BuildState(history=reconciled.history, sources=sources)
    expiries = [
        t.when.astimezone(UTC) + timedelta(days=snapshot.site.tombstone_days)
        for t in reconciled.tombstones
    ]
    events = [e for e in (reconciled.next_due, min(expiries, default=None)) if e]
    state.next_event = min(events, default=None)

    todo = []
    for prefix, folder in folders.items():
        key = folder_key(folder)
        state.feeds[prefix] = key
        names = folder.names
        if not force and previous.feeds.get(prefix) == key and _intact(out_dir, names, previous):
            for name in names:
                state.outputs[name] = previous.outputs[name]
        else:
            todo.append((prefix, folder))
    if todo:
        # Every folder first, so that one that cannot be made fails the build
        # before any file changed; then each folder is written as soon as it is
        # rendered, so a big build never holds all its output in memory.
        prepare_folders(out_dir, [prefix for prefix, _ in todo])
        marker.touch()
    rendered = ordered_map(_render, [folder for _, folder in todo])
    for done, ((prefix, _), files) in enumerate(zip(todo, rendered, strict=True), 1):
        result.rendered.append(prefix)
        result.written += publish(files, out_dir).written
        for name, data in files.items():
            state.outputs[name] = len(data)
        if progress:
            progress(done, len(todo))
    stale = sorted(set(previous.outputs) - set(state.outputs))
    if stale:
        marker.touch()
        result.removed = remove_files(out_dir, stale)
    result.unchanged = len(state.outputs) - len(result.written)
    save_state(state_dir, state, previous)
    if marker.exists():
        os.unlink(marker)

    hub = snapshot.site.websub_hub
    changed_feeds = [
        snapshot.site.url(name)
        for name in result.written
        if name.rpartition("/")[2] in ("rss.xml", "atom.xml", "feed.json")
    ]
    if hub and changed_feeds:
        # After every file is written: a hub that is down costs a warning, not files.
        result.warnings += ping(hub, changed_feeds)

    touched = {name.rpartition("/")[0] for name in result.written + result.removed}
    result.stories_changed = sorted(slug for slug in touched if slug)
    return result


def _render(folder: Folder) -> dict[str, bytes]:
    return folder.render()


def _intact(out_dir: Path, names: list[str], previous: BuildState) -> bool:
    """Are the files the last build wrote still there, at the size it wrote?"""
    for name in names:
        size = previous.outputs.get(name)
        try:
            if size is None or (out_dir / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True
