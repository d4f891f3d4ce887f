"""One story, from the store to its staged output: the unit of work of a build.

:func:`build_story` reads one story from the store, reconciles it with its own
history (see feeds.reconcile), renders its folder unless the folder's digest
shows nothing changed, and *stages* the files: written beside their final
names, to be put in place by the commit step once every story of the build is
known to be valid. Stories are independent, so a big build runs this in
worker processes and streams the results; each holds one story at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..errors import Problem
from ..model import Site, Tombstone
from ..publish import Output
from ..publish.files import stage
from ..reconcile import History, Published, newest_first, reconcile_story
from ..store import Store
from .folder import folder_key, sort_key, story_folder
from .parallel import ordered_map
from .site import Candidates, link_of
from .state import CachedLink, SortKey, StoryState, load_story_state, story_state_path


@dataclass(frozen=True)
class StoryJob:
    slug: str
    present: bool  # False: the story is gone from the store
    store: Store
    output: Output
    state_dir: Path
    site: Site
    site_key: str  # digest of the settings and the renderer
    now: datetime
    force: bool = False
    previous_key: str | None = None  # the folder's digest when last rendered
    previous_outputs: Mapping[str, int] = field(default_factory=dict)  # its files and sizes
    intact: bool = False  # those files are all there at those sizes (the build checked)
    keep: bool = False  # hand the published story back (when run in the same process)


@dataclass
class StoryOutcome:
    slug: str
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None  # output that could not be written
    warning: str | None = None
    staged: list[tuple[str, str]] = field(default_factory=list)  # (staged, name in out/)
    state: tuple[str, str] | None = None  # staged (temporary, final) state file
    durable: bool = True  # whether the state file must reach the disk (it replaces one)
    drop_state: bool = False  # removed, nothing left to announce: forget it
    outputs: dict[str, int] = field(default_factory=dict)
    key: str | None = None
    rendered: bool = False
    link: CachedLink | None = None
    keys: tuple[SortKey, ...] = ()
    tombstones: tuple[Tombstone, ...] = ()  # newest first
    # Anchors of updates that were published and are not now (deleted, retracted,
    # held back again), and of its tombstones: never to be given to a new update.
    withdrawn: tuple[str, ...] = ()
    due: datetime | None = None  # its next event: an embargo ends, a tombstone expires
    embargo: datetime | None = None  # its earliest held-back update
    published: Published | None = None  # if the job said keep


@dataclass
class Visible:
    published: Published | None  # None if it is gone or has problems
    problems: list[Problem]
    history: History  # to record for it
    next_due: datetime | None  # its earliest held-back update
    warning: str | None
    next_change: datetime | None = None  # when its output next changes by itself
    source_key: str = ""
    withdrawn: tuple[str, ...] = ()  # ids published before and not now


def visible_story(job: StoryJob) -> Visible:
    """The story as this build publishes it (read, reconciled), or its problems."""
    previous, warning = load_story_state(job.state_dir, job.slug)
    history = previous.history if previous else History.empty()
    if previous is None and warning is None and job.previous_key is not None:
        warning = (
            f"{story_state_path(job.state_dir, job.slug)}: missing; starting this story "
            "afresh: edit times and tombstones recorded there are lost, ids and published "
            "times are not"
        )
    story, source_key = None, ""
    if job.present:
        read = job.store.read_story(job.slug, job.site)
        if read.story is None or read.problems:
            return Visible(None, list(read.problems), history, None, warning)
        story, source_key = read.story, read.source_key
    reconciled = reconcile_story(
        story,
        history,
        job.now,
        job.site.tombstone_days,
        history_complete=previous is not None,
        notice_days=job.site.retraction_notice_days,
    )
    # Whatever readers may have had and do not get now, even if its tombstone
    # has already expired (tombstone_days = 0).
    gone = (set(history.published) | set(history.tombstones)) - set(reconciled.published)
    return Visible(
        reconciled.story,
        reconciled.problems,
        reconciled.history,
        reconciled.next_due,
        warning,
        reconciled.next_change,
        source_key,
        tuple(sorted(gone | set(reconciled.tombstones))),
    )


def build_story(job: StoryJob) -> StoryOutcome:
    outcome = StoryOutcome(job.slug)
    had_state = story_state_path(job.state_dir, job.slug).exists()
    visible = visible_story(job)
    outcome.warning = visible.warning
    if visible.problems:
        outcome.problems = visible.problems
        return outcome
    history = visible.history
    tombstones = newest_first(history.tombstones.values())
    outcome.tombstones = tombstones
    outcome.withdrawn = tuple(i.rpartition("/")[2] for i in visible.withdrawn)
    outcome.due = _next_event(job, visible.next_change, tombstones)
    outcome.embargo = visible.next_due
    try:
        if visible.published is not None:
            _render(job, visible.published, visible.source_key, outcome)
        if visible.published is None and not history.tombstones:
            outcome.drop_state = True
        else:
            state = StoryState(history, outcome.keys)
            final = story_state_path(job.state_dir, job.slug)
            # A first state has nothing earlier to lose; a replaced one does.
            tmp = stage(final, state.encode(), 0o644, durable=had_state)
            if tmp is not None:
                outcome.state = (str(tmp), str(final))
                outcome.durable = had_state
    except OSError as exc:
        outcome.error = f"{exc.filename or job.output}: cannot write ({exc.strerror})"
        job.output.prune([job.slug], keep_root=True)  # if this build made it, still empty
    return outcome


def _render(job: StoryJob, published: Published, source_key: str, outcome: StoryOutcome) -> None:
    """Stage the story's folder, unless its digest says its files are already right."""
    folder = story_folder(job.site, published, source_key)
    outcome.key = folder_key(folder, job.site_key)
    names = folder.names
    if (
        not job.force
        and outcome.key == job.previous_key
        and job.intact
        and all(name in job.previous_outputs for name in names)
    ):
        outcome.outputs = {name: job.previous_outputs[name] for name in names}
    else:
        outcome.rendered = True
        # A story's first build: one mkdir, and no old file to compare.
        new = not job.previous_outputs and job.output.make_folder(job.slug)
        for name, data in folder.render().items():
            staged = job.output.stage(name, data, new=new)
            if staged is not None:
                outcome.staged.append((staged, name))
            outcome.outputs[name] = len(data)
    outcome.link = link_of(published)
    if job.keep:
        outcome.published = published
    n = job.site.items_per_feed
    outcome.keys = tuple(sort_key(u) for u in published.story.updates[:n])


def _next_event(
    job: StoryJob, change: datetime | None, tombstones: tuple[Tombstone, ...]
) -> datetime | None:
    """The earliest moment this story's output changes by itself: ``change``
    (an embargo ending, ``created`` or a retraction falling due) or a tombstone
    expiring."""
    days = timedelta(days=job.site.tombstone_days)
    events = [t.when.astimezone(UTC) + days for t in tombstones]
    if change is not None:
        events.append(change)
    return min(events, default=None)


@dataclass
class Processed:
    """Every story of a build through :func:`build_story`, and what the build needs of them."""

    outcomes: list[StoryOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def process_stories(
    jobs: list[StoryJob],
    hold: Path,
    fresh: Candidates,
    progress: Callable[[int, int], None] | None,
) -> Processed:
    """Run the jobs (in worker processes when there are many), in order.

    ``fresh`` collects the processed stories' newest updates as they come.
    """
    done = Processed()
    processes = all(job.store.shared for job in jobs[:1])
    for count, outcome in enumerate(ordered_map(build_story, jobs, hold, processes), 1):
        done.outcomes.append(outcome)
        fresh.add(outcome.slug, outcome.keys)
        outcome.keys = ()  # held for 10,000 stories, they would be most of a build's memory
        done.problems += outcome.problems
        if outcome.error:
            done.errors.append(outcome.error)
        if outcome.warning:
            done.warnings.append(outcome.warning)
        if progress:
            progress(count, len(jobs))
    return done
