"""One story, from its file to its staged output: the unit of work of a build.

:func:`build_story` reads and parses a story file, reconciles it with the
story's own history (see feeds.history), renders its folder unless the
folder's digest shows nothing changed, and *stages* the files: each is
written to a temporary file beside its final name, to be renamed into place
by the pipeline once every story of the build is known to be valid. Stories
are independent, so a big build runs this in worker processes (one per CPU)
and streams the results; each holds one story at a time, not the store.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .build import folder_key, sort_key, story_folder
from .errors import Problem
from .history import History, reconcile_story
from .model import Site, Story, Tombstone
from .publish import safe_relative, stage
from .render.html import StoryLink, story_item, story_outline
from .state import StoryState, load_story_state, story_state_path, tombstone_fields
from .store.files import read_store_file
from .store.problems import Problems
from .store.storyfile import parse_story
from .timeutil import rfc3339


@dataclass(frozen=True)
class StoryJob:
    slug: str
    path: Path | None  # None: the story's file is gone
    site: Site
    now: datetime
    out_dir: Path
    state_dir: Path
    site_key: str = ""  # digest of site.toml and the renderers
    force: bool = False
    previous_key: str | None = None  # the folder's digest when last rendered
    previous_outputs: dict[str, int] = field(default_factory=dict)  # its files and sizes
    intact: bool = False  # those files are all there at those sizes (the pipeline checked)
    legacy: History | None = None  # from a format-2 state.json, if migrating
    keep: bool = False  # hand the reconciled story back (when run in the same process)


@dataclass
class StoryOutcome:
    slug: str
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None  # output that could not be written
    warning: str | None = None
    staged: list[tuple[str, str]] = field(default_factory=list)  # (temporary, name in out/)
    state: tuple[str, str] | None = None  # staged (temporary, final) state file
    durable: bool = True  # whether the state file must reach the disk (it replaces one)
    drop_state: bool = False  # removed, nothing left to announce: forget it
    outputs: dict[str, int] = field(default_factory=dict)
    key: str | None = None
    rendered: bool = False
    link: dict[str, Any] | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    tombstones: list[dict[str, str]] = field(default_factory=list)
    due: datetime | None = None  # its next event: an embargo ends, a tombstone expires
    story: Story | None = None  # the reconciled story, if the job said keep
    embargo: datetime | None = None  # its earliest held-back update


def link_fields(story: Story) -> dict[str, Any]:
    """What the site folder needs of a story, with its index and OPML entries rendered."""
    link = StoryLink.of(story)
    return {
        "item_html": story_item(link),
        "outline": story_outline(link),
        "slug": link.slug,
        "title": link.title,
        "status": link.status,
        "url": link.url,
        "timezone": link.timezone,
        "newest": rfc3339(link.newest) if link.newest else None,
        "updated": rfc3339(link.updated) if link.updated else None,
        # For ordering the index without reading times: UTC, so text order is time order.
        "sort": rfc3339(link.updated.astimezone(UTC)) if link.updated else "",
    }


@dataclass
class Visible:
    story: Story | None  # None if it is gone or has problems
    problems: list[Problem]
    history: History  # to record for it
    next_due: datetime | None  # its earliest held-back update
    warning: str | None
    next_change: datetime | None = None  # when its output next changes by itself


def visible_story(job: StoryJob) -> Visible:
    """The story as this build publishes it (parsed, reconciled), or its problems."""
    warning = None
    history = job.legacy
    complete = history is not None and bool(history.published or history.tombstones)
    if history is None:
        previous, warning = load_story_state(job.state_dir, job.slug)
        history = previous.history if previous else History.empty()
        complete = previous is not None
        if previous is None and warning is None and job.previous_key is not None:
            warning = (
                f"{story_state_path(job.state_dir, job.slug)}: missing; starting this story "
                "afresh: edit times and tombstones recorded there are lost, ids and published "
                "times are not"
            )
    story = None
    if job.path is not None:
        problems: list[Problem] = []
        raw = read_store_file(job.path, problems)
        if raw is None:
            return Visible(None, problems, history, None, warning)
        found = Problems(job.path)
        story = parse_story(job.path, raw, job.site, found)
        if story is None or found.items:
            return Visible(None, found.items, history, None, warning)
        # Equal keys, equal stories as parsed: the folder's digest can use it
        # instead of every character of the story (see feeds.build.folder_key).
        key = hashlib.sha256(job.site_key.encode() + b"\0" + raw).hexdigest()
        story = replace(story, source_key=key)
    reconciled = reconcile_story(
        story, history, job.now, job.site.tombstone_days, history_complete=complete
    )
    return Visible(
        reconciled.story,
        reconciled.problems,
        reconciled.history,
        reconciled.next_due,
        warning,
        reconciled.next_change,
    )


def build_story(job: StoryJob) -> StoryOutcome:
    outcome = StoryOutcome(job.slug)
    had_state = story_state_path(job.state_dir, job.slug).exists() or job.legacy is not None
    visible = visible_story(job)
    story, history, outcome.warning = visible.story, visible.history, visible.warning
    if visible.problems:
        outcome.problems = visible.problems
        return outcome
    tombstones = tuple(
        sorted(
            history.tombstones.values(),
            key=lambda t: (t.when.astimezone(UTC), t.id),
            reverse=True,
        )
    )
    outcome.tombstones = [tombstone_fields(t) for t in tombstones]
    outcome.due = _next_event(job, visible.next_change, tombstones)
    outcome.embargo = visible.next_due
    try:
        if story is not None:
            folder = story_folder(job.site, story, tombstones)
            outcome.key = folder_key(folder)
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
                new = not job.previous_outputs and _made(job.out_dir / job.slug)
                for name, data in folder.render().items():
                    # Output files are not fsynced one by one: the next build
                    # checks every file's size against index.json and renders
                    # again whatever a crash lost (see feeds.pipeline).
                    target = job.out_dir.joinpath(*safe_relative(name).parts)
                    tmp = stage(target, data, durable=False, new=new)
                    if tmp is not None:
                        outcome.staged.append((str(tmp), name))
                    outcome.outputs[name] = len(data)
            outcome.link = link_fields(story)
            if job.keep:
                outcome.story = story
            n = job.site.items_per_feed
            outcome.keys = [sort_key(u) for u in story.updates[:n]]
        if story is None and not history.tombstones:
            outcome.drop_state = True
        else:
            state = StoryState(history, outcome.link, outcome.keys)
            final = story_state_path(job.state_dir, job.slug)
            # A first state has nothing earlier to lose; a replaced one does.
            tmp = stage(final, state.encode(), 0o644, durable=had_state)
            if tmp is not None:
                outcome.state = (str(tmp), str(final))
                outcome.durable = had_state
    except OSError as exc:
        outcome.error = f"{exc.filename or job.out_dir}: cannot write ({exc.strerror})"
        with contextlib.suppress(OSError):
            (job.out_dir / job.slug).rmdir()  # if this build made it and it is still empty
    return outcome


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


def _made(folder: Path) -> bool:
    """Create ``folder``; False if it was already there."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return False
    return True
