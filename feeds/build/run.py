"""One build, end to end: lock, plan, the story step, the site step, commit.

This is what ``feeds build`` (and cron) runs. The guarantees come from the
order of the steps:

* **Cheap when idle.** Before reading any story or importing any renderer,
  the store's versions, the clock and the output files' sizes are compared
  with the index; if nothing moved, the build stops there.
* **Validated first, one at a time, crash-safe.** Under an exclusive lock;
  stories are staged and published only once all are valid (feeds.build.commit).
* **Incremental and idempotent.** Only stories whose version changed, whose
  next event came or whose output is damaged are read and rendered, and only
  files whose bytes change are written; the result is the same bytes as a
  build of everything (``--force``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import PublishError
from ..timeutil import Clock, require_aware, system_clock
from .commit import BuildResult, Committer
from .lock import WORKERS_LOCK_FILE, build_lock
from .plan import is_idle, plan
from .state import Index, SiteState, SortKey, code_version, load_story_state, stored_slugs

if TYPE_CHECKING:
    from ..model import Site
    from ..settings import Workspace
    from ..store import Listing
    from .folder import SiteItem
    from .shared import Session
    from .story import StoryJob, StoryOutcome


def run_build(
    workspace: Workspace,
    *,
    clock: Clock = system_clock,
    force: bool = False,
    wait: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Bring the output up to date with the store; ``progress(done, total)`` per story."""
    with build_lock(workspace.state, wait), _shared(workspace, wait) as shared:
        now = require_aware(clock(), "clock()")
        listing = workspace.store.scan()  # before reading: a later change is seen next time
        index = Index.load(workspace.state)
        output = workspace.output
        outputs = index.outputs if index else {}
        broken = {folder for folder, files in outputs.items() if output.sizes_differ(files)}
        committer = Committer(workspace.state, output, workspace.store)
        code = code_version()
        interrupted = committer.interrupted() or bool(shared and shared.interrupted)
        if not force and is_idle(index, listing, now, broken, interrupted, code):
            output.finish()  # a record of the output made by looking at it is kept
            return BuildResult(now=now)
        if shared is not None:
            shared.mark_building()
            if shared.interrupted:  # the last builder died while publishing: check it all
                force = True  # which sweeps the output
        try:
            result = _build(
                workspace, listing, index, now, force, broken, committer, progress, code, shared
            )
            result.repaired = result.repaired or bool(shared and shared.interrupted)
            return result
        except OSError as exc:  # the output or the state folder cannot be written
            where = exc.filename2 or exc.filename or workspace.out  # a rename: where it went
            raise PublishError(
                f"{where}: cannot write ({exc.strerror}); check space and permissions. "
                "What was already in place stays served; the next build repairs the rest"
            ) from exc


@contextmanager
def _shared(workspace: Workspace, wait: float) -> Iterator[Session | None]:
    """For a store in a database: its build lock, and the state mirrored from it."""
    if not getattr(workspace.store, "builds_in_database", False):
        yield None
        return
    from .shared import session

    with session(workspace.store, workspace.state, wait) as held:  # type: ignore[arg-type]
        yield held


def _build(
    workspace: Workspace,
    listing: Listing,
    index: Index | None,
    now: datetime,
    force: bool,
    broken: set[str],
    committer: Committer,
    progress: Callable[[int, int], None] | None,
    code: str,
    shared: Session | None = None,
) -> BuildResult:
    # Imported here: an idle build never needs the parser or the renderers.
    from .commit import next_index, stale_files
    from .folder import site_key
    from .parallel import THRESHOLD
    from .site import Candidates, site_step
    from .story import process_stories

    site = workspace.store.read_site()  # StoreError if the settings are bad
    result = BuildResult(now=now)
    if committer.recover():  # sweeps the output
        result.repaired = force = True
    elif force:
        workspace.output.sweep()  # a bucket is listed: what is there counts, not the record
    key = site_key(site, workspace.output.policy(site))
    previous = index or Index()
    cache = SiteState.load(workspace.state) if index and not force else SiteState()
    args = dict(site_key=key, force=force, broken=broken, cache_complete=cache.complete)
    todo = plan(index, listing, now, **args)  # type: ignore[arg-type]
    if todo.everything:  # stories that left only a state behind are looked for too
        todo = plan(index, listing, now, stored=stored_slugs(workspace.state), **args)  # type: ignore[arg-type]
        cache = SiteState()
    jobs = Jobs(workspace, site, key, now, force, previous, broken)
    # Processed in this process: keep each published story for the site step.
    keep = len(todo.changed) + len(todo.gone) < THRESHOLD or not workspace.store.shared
    batch = [jobs.job(s, keep=keep) for s in todo.changed] + [
        jobs.job(s, present=False, keep=keep) for s in todo.gone
    ]
    if batch:
        committer.begin_staging()
    fresh = Candidates(site.items_per_feed)
    done = process_stories(batch, workspace.state / WORKERS_LOCK_FILE, fresh, progress)
    result.warnings += done.warnings
    problems = list(listing.problems) + done.problems
    if problems or done.errors:
        committer.abort(done.outcomes, problems, done.errors, keep_root=jobs.out_existed)
    jobs.kept = {o.slug: o for o in done.outcomes}
    processed = set(jobs.kept)
    unprocessed = [slug for slug in listing.stories if slug not in processed]
    render_site = todo.everything or "" in broken or previous.feeds.get("") != key
    site_files = site_step(
        site, cache, done.outcomes, fresh, unprocessed, jobs.keys_of, jobs.items_of, render_site
    )
    new = next_index(previous, listing, key, now, done.outcomes, site_files.files, jobs.lost)
    new.code = code
    result.warnings += jobs.warnings
    result.rendered = [f"{o.slug}/" for o in done.outcomes if o.rendered]
    result.rendered += [""] if site_files.files else []
    if shared is not None:
        shared.confirm()  # still the only builder: the database lock is still held
    committer.retire(done.outcomes)
    committer.publish(
        result, done.outcomes, site, site_files.files, stale_files(previous.outputs, new.outputs)
    )
    committer.save(done.outcomes, cache, site_files.cache_changed, new)
    result.next_due = min(new.embargo.values(), default=None)
    _announce(site, result, workspace.hook)
    committer.announced()
    return result


@dataclass
class Jobs:
    """Story jobs of one build, and the site step's questions about unprocessed stories."""

    workspace: Workspace
    site: Site
    site_key: str
    now: datetime
    force: bool
    previous: Index
    broken: set[str]
    kept: dict[str, StoryOutcome] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out_existed = self.workspace.output.exists()

    def job(self, slug: str, present: bool = True, keep: bool = True) -> StoryJob:
        from .story import StoryJob

        folder = f"{slug}/"
        return StoryJob(
            slug=slug,
            present=present,
            store=self.workspace.store,
            output=self.workspace.output,
            state_dir=self.workspace.state,
            site=self.site,
            site_key=self.site_key,
            now=self.now,
            force=self.force,
            previous_key=self.previous.feeds.get(folder),
            previous_outputs=self.previous.outputs.get(folder, {}),
            intact=folder not in self.broken,
            keep=keep,
        )

    def keys_of(self, slug: str) -> list[SortKey]:
        """The sort keys of a story's newest updates, from its state (or, if lost, itself)."""
        from .folder import sort_key
        from .story import visible_story

        state, warning = load_story_state(self.workspace.state, slug)
        if state is not None:
            return list(state.keys)
        # Lost: read the story as it was built (ids and times come from the store),
        # and have the next build process it whole, which writes its state again.
        self.lost.append(slug)
        path = self.workspace.state / "stories" / f"{slug}.json"
        why = warning or f"{path}: missing"
        self.warnings.append(
            f"{why}; the next build reads {slug} again and starts its state afresh"
        )
        published = visible_story(self.job(slug)).published
        updates = published.story.updates[: self.site.items_per_feed] if published else ()
        return [sort_key(u) for u in updates]

    def items_of(self, slug: str, wanted: set[SortKey]) -> list[SiteItem]:
        from .folder import SiteItem, sort_key
        from .story import visible_story

        outcome = self.kept.get(slug)
        published = outcome.published if outcome else None
        if published is None:
            published = visible_story(self.job(slug)).published
        updates = published.story.updates if published else ()
        return [SiteItem.of(u) for u in updates if sort_key(u) in wanted]


def _announce(site: Site, result: BuildResult, hook: str | None) -> None:
    """WebSub pings and the publish hook, after every file is in place: a hub or a
    hook that fails costs a warning."""
    from ..render.formats import FORMATS

    current = {f.file_name for f in FORMATS}  # not archive pages: they do not change
    feeds = [site.url(name) for name in result.announce if name.rpartition("/")[2] in current]
    if site.websub_hub and feeds:
        from ..websub import ping

        result.warnings += ping(site.websub_hub, feeds)
    if hook and result.announce:
        from ..publish.hook import changed_urls, run_hook

        result.warnings += run_hook(hook, changed_urls(site, result.announce))
