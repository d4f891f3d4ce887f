"""The commit step: markers, staged files into place, removals, state and index, in a safe order.

* A ``staging`` marker is present while stories are staged: a build killed
  then leaves temporary files but has changed nothing, so the next one only
  sweeps them away.
* A ``publishing`` marker is present while files are put in place: a build
  killed then may have replaced some of them, so the next one renders
  everything, repairing ``out/``.
* The order: the files in batches, each linking only to files of earlier
  ones (feeds.publish.publication_order: archive pages, story feeds, story
  pages, site feeds, the site's page), then removals of what no story has any
  more, then the output's record of itself, each story's state, the site
  cache and last the index, so that a build killed at any point is repaired
  or finished by the next one. Nothing is published unless every story was
  valid: a failed build discards what it staged and leaves out/ and the state
  as they were.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ..errors import FeedsError, Problem, PublishError, StoreError
from ..publish import Output, Staged, publication_order, staged
from ..publish.files import commit, discard, sweep_temporary_files, write_if_changed
from ..store import Listing, Store
from .lock import wait_for_workers
from .plan import settled
from .state import OLD_SITE_CACHE_FILE, SITE_CACHE_FILE, Index, SiteState, story_state_path

if TYPE_CHECKING:
    from ..model import Site
    from .story import StoryOutcome

PUBLISHING_MARKER = "publishing"
STAGING_MARKER = "staging"
# What a build is putting in place, until it has been announced (WebSub, publish_hook):
# a build that fails or is killed on the way leaves it for the next one to announce.
ANNOUNCE_FILE = "announce.json"


@dataclass
class BuildResult:
    now: datetime
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)  # feed folders rendered
    next_due: datetime | None = None  # the earliest update held back
    warnings: list[str] = field(default_factory=list)
    repaired: bool = False  # the last build was killed while publishing
    # Files to announce as changed: written or removed now, or put in place by a
    # build that failed or was killed before it could announce them.
    announce: list[str] = field(default_factory=list)

    @property
    def stories_changed(self) -> list[str]:
        """The stories with files written or removed."""
        return sorted({name.rpartition("/")[0] for name in self.written + self.removed} - {""})

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


class Committer:
    def __init__(self, state_dir: Path, output: Output, store: Store) -> None:
        self.state_dir = state_dir
        self.output = output
        self.store = store
        self.publishing = state_dir / PUBLISHING_MARKER
        self.staging = state_dir / STAGING_MARKER

    def interrupted(self) -> bool:
        """Did the last build end before it finished?"""
        return self.publishing.exists() or self.staging.exists()

    def recover(self) -> bool:
        """After a killed build: sweep what it staged; True if out/ may be half-published."""
        if not self.interrupted():
            return False
        # Its workers may still be finishing a story: wait for them first.
        wait_for_workers(self.state_dir)
        self.output.sweep()
        sweep_temporary_files(self.state_dir)
        return self.publishing.exists()

    def begin_staging(self) -> None:
        self.staging.touch()

    def abort(
        self,
        outcomes: list[StoryOutcome],
        problems: list[Problem],
        errors: list[str],
        keep_root: bool,
    ) -> NoReturn:
        """Nothing is published: discard what was staged, then raise."""
        self.output.discard(tmp for o in outcomes for tmp, _ in o.staged)
        discard(Path(o.state[0]) for o in outcomes if o.state)
        self.output.prune(
            {name.rpartition("/")[0] for o in outcomes for _, name in o.staged}, keep_root
        )
        self.staging.unlink(missing_ok=True)
        if problems:
            raise StoreError(problems)
        raise PublishError(f"{errors[0]}; check space and permissions; nothing was published")

    def retire(self, outcomes: list[StoryOutcome]) -> None:
        """Tell the store which ids were published and are gone, before anything is
        published: from then on no new update gets them, whatever state later builds
        use. A store that cannot say so fails the build, which the next one repeats."""
        for o in outcomes:
            if o.withdrawn:
                try:
                    self.store.retire(o.slug, o.withdrawn)
                except (FeedsError, OSError) as exc:
                    self.abort(
                        outcomes, [], [f"{o.slug}: cannot record its withdrawn ids ({exc})"], True
                    )

    def publish(
        self,
        result: BuildResult,
        outcomes: list[StoryOutcome],
        site: Site,
        site_files: dict[str, bytes],
        stale: list[str],
    ) -> None:
        """Staged files into place batch by batch (feeds.publish.publication_order), then
        removals: no published document ever links to a file not yet in place."""
        items = [(tmp, name) for o in outcomes for tmp, name in o.staged]
        for name, data in site_files.items():
            tmp = self.output.stage(name, data)
            if tmp is not None:
                items.append((tmp, name))
        earlier = self._unannounced()
        if items or stale:
            names = earlier | {name for _, name in items} | set(stale)
            write_if_changed(self.state_dir / ANNOUNCE_FILE, json.dumps(sorted(names)).encode())
        if outcomes or site_files or stale:
            self.publishing.touch()
        batches: dict[tuple[int, int], list[Staged]] = {}
        for tmp, name in items:
            batches.setdefault(publication_order(name), []).append(staged(site, tmp, name))
        order = sorted(batches)
        for number, step in enumerate(order):
            try:
                result.written += self.output.publish(batches[step])
            except BaseException:
                rest = order[number + 1 :]
                self.output.discard(i.token for later in rest for i in batches[later])
                raise
        if stale:
            result.removed = self.output.remove(stale)
        result.announce = sorted(earlier | set(result.written) | set(result.removed))

    def _unannounced(self) -> set[str]:
        try:
            names = json.loads((self.state_dir / ANNOUNCE_FILE).read_bytes())
        except (OSError, ValueError):
            return set()
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    def announced(self) -> None:
        (self.state_dir / ANNOUNCE_FILE).unlink(missing_ok=True)

    def save(
        self, outcomes: list[StoryOutcome], cache: SiteState, cache_changed: bool, index: Index
    ) -> None:
        """The stories' state, the site cache, the index; then the markers go."""
        for o in outcomes:
            if o.state:
                commit(Path(o.state[0]), Path(o.state[1]), durable=o.durable)
            elif o.drop_state:
                story_state_path(self.state_dir, o.slug).unlink(missing_ok=True)
        (self.state_dir / OLD_SITE_CACHE_FILE).unlink(missing_ok=True)
        cache_path = self.state_dir / SITE_CACHE_FILE
        if not cache.complete:
            # The site's items could not all be made (a story changed while it was
            # read): this cache is not to be trusted; the next build makes it.
            cache_path.unlink(missing_ok=True)
        elif cache_changed or not cache_path.exists():
            write_if_changed(cache_path, cache.encode())
        self.output.finish()
        index.save(self.state_dir)
        if self.publishing.exists():
            os.unlink(self.publishing)
        self.staging.unlink(missing_ok=True)


def stale_files(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> list[str]:
    """Files the last build wrote and this one does not: to be removed."""
    return sorted(
        name
        for folder, files in before.items()
        if after.get(folder) is not files
        for name in set(files) - set(after.get(folder, ()))
    )


def next_index(
    previous: Index,
    listing: Listing,
    site_key: str,
    now: datetime,
    outcomes: list[StoryOutcome],
    site_files: dict[str, bytes],
    lost: list[str],
) -> Index:
    """The index this build leaves: the last one with what was processed replaced.

    ``lost``: stories whose state was needed and missing, to be read again
    whole by the next build.
    """
    site_version, versions = settled(listing)
    new = Index(
        site_version=site_version,
        sources=versions,
        site_key=site_key,
        feeds=dict(previous.feeds),
        due=dict(previous.due),
        embargo=dict(previous.embargo),
        built_at=now,
        outputs=dict(previous.outputs),
    )
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
        for times, when in ((new.due, o.due), (new.embargo, o.embargo)):
            if when:
                times[o.slug] = when
            else:
                times.pop(o.slug, None)
    if site_files:
        new.outputs[""] = {name: len(data) for name, data in site_files.items()}
    new.feeds[""] = site_key
    for slug in lost:
        new.due[slug] = now  # so that the next build reads it whole
    new.next_event = min(new.due.values(), default=None)
    return new
