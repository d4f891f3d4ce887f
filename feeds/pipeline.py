"""One build, end to end: lock, read, reconcile, render what changed, publish.

This is what ``feeds build`` (and cron) runs. The stages below it are pure or
do one kind of I/O each; this module owns their order and the guarantees that
come from it:

* **Validated first.** Every story that changed is read and checked before
  anything is published: files are staged beside their final names and
  renamed into place only once all are valid; bad input raises StoreError,
  removes what was staged and leaves ``out/`` and the state alone.
* **One at a time.** An exclusive lock in the state folder serialises builds.
* **Incremental.** Only stories whose file changed (size, mtime, inode), whose
  next event came (an embargo ends, a tombstone expires) or whose output files
  are missing or changed size are read, reconciled and rendered, each with
  its own part of the build state (see feeds.state); the site folder re-uses
  the serialised items of the site-wide feeds and each story's link and
  tombstones from ``site.pickle``. A folder whose digest matches the last
  build's is not rendered again. Stories are processed in worker processes
  when there are many (feeds.parallel), one story at a time each.
* **Idempotent.** Files are written only when their bytes change; a build with
  nothing new writes nothing at all, not even the state.
* **Crash-safe.** Files are replaced atomically; a marker file records that
  publishing began, and a build that finds it (the last one was killed)
  re-renders everything and sweeps temporary files, repairing ``out/``.
  Output files are not fsynced one by one (the build state is): every build
  checks each output file's size against ``index.json`` and renders again a
  folder whose file a power cut truncated.
* **Cheap when idle.** Before reading any story, the build compares the store's
  file stats, the clock and the output files with ``index.json``; if nothing
  moved it stops there, without importing the renderers (cron runs this every
  minute).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .lock import WORKERS_LOCK_FILE, build_lock, wait_for_workers
from .parallel import THRESHOLD, ordered_map
from .state import Index, Stat, load_index
from .timeutil import Clock, require_aware, system_clock

if TYPE_CHECKING:
    from .model import Site
    from .render.html import StoryLink
    from .state import SiteState
    from .storybuild import StoryJob, StoryOutcome

DIRTY_MARKER = "publishing"
# Present while stories are staged: a build killed then leaves temporary
# files but has changed nothing, so the next one only sweeps them away.
STAGING_MARKER = "staging"


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

    ``progress(done, total)`` is called after each story is processed.
    """
    state_dir = state_dir or default_state_dir(data_dir)
    with build_lock(state_dir, wait):
        now = require_aware(clock(), "clock()")
        scanned_at = time.time_ns()
        try:
            listing = list(os.scandir(data_dir))
        except OSError:
            listing = []
        sources = source_stats(listing)  # before reading: a later change is seen next time
        index = load_index(state_dir)
        broken = _broken_folders(index, out_dir)
        if not force and _idle(index, broken, sources, state_dir, now):
            assert index is not None
            return BuildResult(now=now, unchanged=index.count())
        return _build(
            data_dir,
            out_dir,
            state_dir,
            now,
            listing,
            sources,
            scanned_at,
            index,
            broken,
            force,
            progress,
        )


def source_stats(listing: list[os.DirEntry[str]]) -> dict[str, Stat]:
    """mtime, size and inode of site.toml and every file named like a story."""
    stats: dict[str, Stat] = {}
    for entry in listing:
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


# A file changed within this long before the store was listed may change
# again within the same tick of its file system's clock, keeping its mtime
# (and, if its size too, hiding the change): its stat is not recorded, so the
# next build reads it again.
RACY_NS = 2_000_000_000


def _trusted(sources: dict[str, Stat], scanned_at: int) -> dict[str, Stat]:
    return {
        name: (-1, size, ino) if mtime >= scanned_at - RACY_NS else (mtime, size, ino)
        for name, (mtime, size, ino) in sources.items()
    }


def _broken_folders(index: Index | None, out_dir: Path) -> set[str]:
    """Folders ("" or "<slug>/") with a file missing or not at the size last written."""
    broken: set[str] = set()
    if index is None:
        return broken
    prefix = str(out_dir) + os.sep
    stat = os.stat
    for folder, files in index.outputs.items():
        for name, size in files.items():
            try:
                if stat(prefix + name).st_size == size:
                    continue
            except OSError:
                pass
            broken.add(folder)
            break
    return broken


def _idle(
    index: Index | None, broken: set[str], sources: dict[str, Stat], state_dir: Path, now: datetime
) -> bool:
    """Is the last build's output still exactly right?"""
    if index is None or not index.sources or index.sources != sources or broken:
        return False
    if (state_dir / DIRTY_MARKER).exists():
        return False
    return index.next_event is None or now < index.next_event  # an event is due


def _site_key(raw: bytes) -> str:
    """site.toml and the renderers: when either changes, every folder is rendered again."""
    from .build import RENDER_VERSION

    return hashlib.sha256(RENDER_VERSION.encode() + b"\0" + raw).hexdigest()


def _build(
    data_dir: Path,
    out_dir: Path,
    state_dir: Path,
    now: datetime,
    listing: list[os.DirEntry[str]],
    sources: dict[str, Stat],
    scanned_at: int,
    previous: Index | None,
    broken: set[str],
    force: bool,
    progress: Callable[[int, int], None] | None,
) -> BuildResult:
    # Imported here: an idle build never needs them.
    from .errors import PublishError, StoreError
    from .history import History, split_history
    from .publish import commit, discard, remove_files, sweep_temporary_files, write_if_changed
    from .state import SiteState, load_legacy_history, load_site_state, story_slugs
    from .store import FileStore
    from .storybuild import StoryJob, build_story

    out_existed = out_dir.exists()
    store = FileStore(data_dir)
    site, site_raw = store.read_site()  # once: the key must be of what was used
    names, problems = store.story_names(listing)
    result = BuildResult(now=now)
    index = previous or Index()
    marker = state_dir / DIRTY_MARKER
    staging = state_dir / STAGING_MARKER
    if marker.exists() or staging.exists():
        # The last build was killed. Its workers may still be finishing a
        # story: wait for them, then sweep what they staged. Killed while
        # publishing, it may have replaced some files: render everything.
        wait_for_workers(state_dir)
        sweep_temporary_files(out_dir)
        sweep_temporary_files(state_dir)
        if marker.exists():
            result.repaired = True
            force = True
    site_key = _site_key(site_raw)
    legacy = load_legacy_history(state_dir)
    legacy_parts = split_history(legacy) if legacy is not None else None
    # Everything again: forced, a new site.toml or renderer, no usable state, or
    # a clock that went back (what was published may now be in the future).
    everything = force or previous is None or index.site_key != site_key or legacy is not None
    everything = everything or (index.built_at is not None and now < index.built_at)
    site_state = SiteState() if everything else load_site_state(state_dir)
    everything = everything or not site_state.complete

    present = {name[:-3]: name for name in names}  # slug -> file name
    known = {prefix[:-1] for prefix in index.feeds if prefix} | set(index.due)
    if everything:
        known |= set(story_slugs(state_dir)) | set(legacy_parts or ())
    changed = sorted(
        slug
        for slug, name in present.items()
        if everything
        or index.sources.get(name) != sources.get(name)
        or f"{slug}/" in broken
        or f"{slug}/" not in index.feeds
        or (slug in index.due and now >= index.due[slug])
    )
    gone = sorted(known - set(present))
    by_folder = index.outputs

    def job(slug: str) -> StoryJob:
        return StoryJob(
            slug=slug,
            path=data_dir / present[slug] if slug in present else None,
            site=site,
            now=now,
            out_dir=out_dir,
            state_dir=state_dir,
            site_key=site_key,
            force=force,
            previous_key=index.feeds.get(f"{slug}/"),
            previous_outputs=by_folder.get(f"{slug}/", {}),
            intact=f"{slug}/" not in broken,
            legacy=None if legacy_parts is None else legacy_parts.get(slug, History.empty()),
        )

    # Stories processed here (not in workers) are kept for the site's items.
    keep = len(changed) + len(gone) < THRESHOLD
    jobs = [replace(job(slug), keep=keep) for slug in changed + gone]
    outcomes: list[StoryOutcome] = []
    fresh_top: list[tuple[tuple[str, str], str]] = []  # (key, slug), newest first
    errors: list[str] = []
    if jobs:
        staging.touch()
    workers = state_dir / WORKERS_LOCK_FILE
    for done, outcome in enumerate(ordered_map(build_story, jobs, hold=workers), 1):
        outcomes.append(outcome)
        # Only the newest updates of all can make the site-wide feeds: keep
        # those, not every story's keys (a cold build has 10,000 stories).
        newest = [(key, outcome.slug) for key in outcome.keys]
        fresh_top = heapq.nlargest(site.items_per_feed, fresh_top + newest)
        outcome.keys = []
        problems += outcome.problems
        if outcome.error:
            errors.append(outcome.error)
        if outcome.warning:
            result.warnings.append(outcome.warning)
        if progress:
            progress(done, len(jobs))
    if problems or errors:
        discard(Path(tmp) for o in outcomes for tmp, _ in o.staged)
        discard(Path(o.state[0]) for o in outcomes if o.state)
        _prune({Path(tmp).parent for o in outcomes for tmp, _ in o.staged}, out_dir, out_existed)
        staging.unlink(missing_ok=True)
        if problems:
            raise StoreError(problems)
        raise PublishError(f"{errors[0]}; check space and permissions; nothing was published")

    # The site folder, from what the stories said of themselves.
    site_changed = everything or "" in broken or index.feeds.get("") != site_key
    inserted: set[str] = set()
    for o in outcomes:
        site_changed |= _put(site_state.links, o.slug, o.link, inserted)
        site_changed |= _put(site_state.tombstones, o.slug, o.tombstones, inserted)
    if inserted:  # kept in slug order, so that the same inputs give the same bytes
        site_state.links = dict(sorted(site_state.links.items()))
        site_state.tombstones = dict(sorted(site_state.tombstones.items()))
    jobs_by_slug = {j.slug: j for j in jobs}
    lost: list[tuple[str, str]] = []
    items = _site_items(
        site.items_per_feed,
        site_state,
        outcomes,
        fresh_top,
        present,
        jobs_by_slug,
        job,
        state_dir,
        lost,
    )
    if items != site_state.items:
        site_changed = True
        site_state.items = items
    site_files: dict[str, bytes] = {}
    if force or site_changed:
        site_files = _render_site(site, site_state)

    # Publish: staged story files into place, then the site's, then the state.
    new = Index(
        sources=_trusted(sources, scanned_at),
        site_key=site_key,
        feeds=dict(index.feeds),
        due=dict(index.due),
        embargo=dict(index.embargo),
        built_at=now,
    )
    new.outputs = dict(index.outputs)
    staged = [pair for o in outcomes for pair in o.staged]
    if staged or site_files or outcomes:
        marker.touch()
    for tmp, name in staged:
        commit(Path(tmp), out_dir / name, durable=False)
        result.written.append(name)
    for o in outcomes:
        prefix = f"{o.slug}/"
        if o.outputs:
            new.outputs[prefix] = o.outputs
        else:
            new.outputs.pop(prefix, None)
        if o.key:
            new.feeds[prefix] = o.key
        else:
            new.feeds.pop(prefix, None)
        for table, when in ((new.due, o.due), (new.embargo, o.embargo)):
            if when:
                table[o.slug] = when
            else:
                table.pop(o.slug, None)
        if o.rendered:
            result.rendered.append(prefix)
    if site_files:
        result.rendered.append("")
        for name, data in site_files.items():
            if write_if_changed(out_dir / name, data, durable=False):
                result.written.append(name)
    if site_files:
        new.outputs[""] = {name: len(data) for name, data in site_files.items()}
    new.feeds[""] = site_key
    for slug, why in lost:
        new.due[slug] = now  # so that the next build reads it whole
        result.warnings.append(
            f"{why}; the next build reads {slug} again and starts its state afresh"
        )
    stale = sorted(
        name
        for folder, files in index.outputs.items()
        if new.outputs.get(folder) is not files
        for name in set(files) - set(new.outputs.get(folder, ()))
    )
    if stale:
        marker.touch()
        result.removed = remove_files(out_dir, stale)
    for o in outcomes:
        if o.state:
            commit(Path(o.state[0]), Path(o.state[1]), durable=o.durable)
        elif o.drop_state:
            (state_dir / "stories" / f"{o.slug}.json").unlink(missing_ok=True)
    from .state import SITE_FILE, save_index

    if not site_state.complete:
        # The site's items could not all be made (a story changed while it
        # was read): this cache is not to be trusted, the next build makes it.
        (state_dir / SITE_FILE).unlink(missing_ok=True)
    elif site_changed or not (state_dir / SITE_FILE).exists():
        write_if_changed(state_dir / SITE_FILE, site_state.encode())
    new.next_event = min(new.due.values(), default=None)
    save_index(state_dir, new)
    if legacy is not None:
        (state_dir / "state.json").unlink(missing_ok=True)
    if everything:
        _forget_parse_cache(state_dir)
    if marker.exists():
        os.unlink(marker)
    staging.unlink(missing_ok=True)
    result.next_due = min(new.embargo.values(), default=None)
    result.unchanged = new.count() - len(result.written)

    hub = site.websub_hub
    changed_feeds = [
        site.url(name)
        for name in result.written
        if name.rpartition("/")[2] in ("rss.xml", "atom.xml", "feed.json")
    ]
    if hub and changed_feeds:
        from .websub import ping

        # After every file is written: a hub that is down costs a warning, not files.
        result.warnings += ping(hub, changed_feeds)

    touched = {name.rpartition("/")[0] for name in result.written + result.removed}
    result.stories_changed = sorted(slug for slug in touched if slug)
    return result


def _forget_parse_cache(state_dir: Path) -> None:
    """Remove the parsed-story pickles that earlier versions kept in ``cache/``."""
    cache = state_dir / "cache"
    for pickled in cache.glob("*.pickle"):
        pickled.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        cache.rmdir()


def _put(table: dict[str, Any], slug: str, value: Any, inserted: set[str]) -> bool:
    """Set (or, if empty, remove) a story's entry; True if it changed."""
    if table.get(slug) == (value or None):
        return False
    if not value:
        del table[slug]
    else:
        if slug not in table:
            inserted.add(slug)
        table[slug] = value
    return True


def _prune(folders: set[Path], out_dir: Path, keep_out: bool) -> None:
    """Remove the folders a failed build created and left empty."""
    for folder in sorted(folders, reverse=True):
        while folder != out_dir and folder.is_relative_to(out_dir):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    if not keep_out:
        with contextlib.suppress(OSError):
            out_dir.rmdir()


def _site_items(
    n: int,
    site_state: SiteState,
    outcomes: list[StoryOutcome],
    fresh_top: list[tuple[tuple[str, str], str]],
    present: dict[str, str],
    jobs: dict[str, StoryJob],
    job: Callable[[str], StoryJob],
    state_dir: Path,
    lost: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """The site-wide feeds' items: the newest ``n`` updates of all stories.

    Stories whose state was needed and could not be read are added to ``lost``
    (slug, why).

    The last build's items are kept for the stories that did not change; the
    changed stories' newest updates compete with them. That is exact unless
    updates left the top (deleted, retracted, held back again) and older
    ones of other stories must move up: then every story's newest keys are
    read from its state.
    """
    from .build import SiteItem, sort_key
    from .state import load_story_state
    from .storybuild import visible_story

    processed = {o.slug for o in outcomes}
    previous = site_state.items
    kept = {tuple(i["key"]): i for i in previous if i["story"] not in processed}
    candidates = [(key, str(i["story"])) for key, i in kept.items()]
    candidates += fresh_top  # the newest updates of the stories processed
    top = sorted(candidates, reverse=True)[:n]
    exact = site_state.complete and (
        len(previous) < n or (len(top) == n and top[-1][0] >= tuple(previous[-1]["key"]))
    )
    if not exact and len(processed) < len(present):
        # Or no usable site.pickle: ask every story that was not processed.
        candidates = list(fresh_top)
        for slug in sorted(set(present) - processed):
            state, warning = load_story_state(state_dir, slug)
            if state is not None:
                candidates += [(tuple(k), slug) for k in state.keys]
                continue
            # Its state is lost: read the story itself (as it was built, with
            # no history: ids and times come from the file), and have the
            # next build process it whole, which writes its state again.
            lost.append((slug, warning or f"{state_dir / 'stories' / slug}.json: missing"))
            story = visible_story(job(slug)).story
            candidates += [(sort_key(u), slug) for u in story.updates[:n]] if story else []
        top = sorted(candidates, reverse=True)[:n]
    items: list[dict[str, Any]] = []
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = {key for key, _ in top if key not in kept}
    kept_stories = {o.slug: o.story for o in outcomes if o.story is not None}
    for slug in sorted({slug for key, slug in top if key in wanted}):
        story = kept_stories.get(slug) or visible_story(jobs.get(slug) or job(slug)).story
        for update in story.updates if story else ():
            if sort_key(update) not in wanted:
                continue
            item = SiteItem.of(update)
            fresh[item.key] = {
                "key": list(item.key),
                "story": item.story,
                "language": item.language,
                "rss": item.rss,
                "atom": item.atom,
                "json": item.json,
            }
    for key, _ in top:
        entry = kept.get(key) or fresh.get(key)
        if entry is not None:
            items.append(entry)
    # Complete unless a story said it had an update it no longer shows.
    site_state.complete = len(items) == len(top)
    return items


def _render_site(site: Site, state: SiteState) -> dict[str, bytes]:
    """The site folder from site.pickle alone: no story is read, no link re-rendered."""
    from .build import SiteItem, site_feed, site_files, site_updated
    from .history import newest_first
    from .render.html import opml, site_page, story_item, story_outline
    from .state import _time, tombstones_of

    tombstones = newest_first(
        t for slug in sorted(state.tombstones) for t in tombstones_of(state.tombstones[slug])
    )
    # Newest first by the UTC time of each story's last change, as strings
    # that sort like the times (see feeds.storybuild.link_fields).
    order = sorted(((raw["sort"], slug) for slug, raw in state.links.items()), reverse=True)
    newest = order[0][0] if order and order[0][0] else None
    updated = site_updated([_time(newest)] if newest else [], tombstones)
    feed = site_feed(site, updated, tombstones)
    links = [state.links[slug] for slug in sorted(state.links)]
    index_html = site_page(
        site,
        [
            state.links[slug].get("item_html") or story_item(_story_link(state.links[slug]))
            for _, slug in order
        ],
    )
    outlines = [raw.get("outline") or story_outline(_story_link(raw)) for raw in links]
    items = [
        SiteItem(tuple(i["key"]), i["story"], i["language"], i["rss"], i["atom"], i["json"])
        for i in state.items
    ]
    return site_files(feed, items, index_html, opml(site, updated, outlines))


def _story_link(raw: dict[str, Any]) -> StoryLink:
    from .render.html import StoryLink
    from .state import _time

    return StoryLink(
        raw["slug"],
        raw["title"],
        raw["status"],
        raw["url"],
        raw["timezone"],
        _time(raw["newest"]) if raw["newest"] else None,
        _time(raw["updated"]) if raw["updated"] else None,
        raw.get("item_html", ""),
        raw.get("outline", ""),
    )
