"""Read-only views of the store and the output: list, show, export, check.

Nothing here writes a byte or takes a lock: these are safe to run at any
time, even while a build is running. ``show`` and ``export SLUG`` read only the
story they are about (and its part of the build state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .build.parallel import ordered_map
from .build.state import Index, load_history, stored_slugs
from .errors import FeedsError, Problem, StoreError
from .model import Site, Snapshot, Story, Tombstone, Update
from .reconcile import History, Reconciled, UpdateRecord, reconcile, reconcile_story
from .settings import Workspace
from .store import Store
from .timeutil import rfc3339


@dataclass(frozen=True)
class View:
    """Stories as the store holds them, and as a build at ``now`` would publish them."""

    stories: tuple[Story, ...]  # as written, sorted by slug
    updated: dict[str, datetime]  # update id -> its ``updated`` as published
    now: datetime

    def updated_of(self, update: Update) -> datetime:
        return self.updated.get(update.id, update.updated)

    def status_of(self, update: Update) -> str:
        """ "retracted", "scheduled" (held back until due), "edited" or ""."""
        if update.retracted:
            return "retracted"
        if update.published.astimezone(UTC) > self.now.astimezone(UTC):
            return "scheduled"
        if self.updated_of(update).astimezone(UTC) != update.published.astimezone(UTC):
            return "edited"
        return ""


def read_all(store: Store) -> Snapshot:
    """Every story, read and checked; StoreError listing every problem."""
    site = store.read_site()
    listing = store.scan()
    problems = list(listing.problems)
    stories = []
    jobs = [(store, slug, site) for slug in listing.stories]
    for read in ordered_map(_read, jobs, processes=store.shared):
        problems += read[1]
        if read[0] is not None:
            stories.append(read[0])
    if problems:
        raise StoreError(problems)
    return Snapshot(site=site, stories=tuple(stories))


def _read(job: tuple[Store, str, Site]) -> tuple[Story | None, tuple[Problem, ...]]:
    store, slug, site = job
    read = store.read_story(slug, site)
    return read.story, read.problems


def refresh_state(ws: Workspace) -> None:
    """For a store in a database: the local mirror of the build state brought in step."""
    if getattr(ws.store, "builds_in_database", False):
        from .build.shared import refresh

        refresh(ws.store, ws.state)  # type: ignore[arg-type]


def load_history_all(ws: Workspace) -> History:
    """Every story's history merged (for the views of the whole site)."""
    from .build.state import load_story_state

    refresh_state(ws)

    published: dict[str, UpdateRecord] = {}
    tombstones: dict[str, Tombstone] = {}
    for slug in stored_slugs(ws.state):
        state, _ = load_story_state(ws.state, slug)
        if state is not None:
            published.update(state.history.published)
            tombstones.update(state.history.tombstones)
    return History(published, tombstones)


def site_view(ws: Workspace, now: datetime) -> tuple[View, Reconciled]:
    snapshot = read_all(ws.store)
    reconciled = reconcile(snapshot, load_history_all(ws), now, snapshot.site.tombstone_days)
    updated = {u.id: u.updated for p in reconciled.stories for u in p.story.updates}
    return View(snapshot.stories, updated, now), reconciled


def story_view(ws: Workspace, slug: str, now: datetime) -> View:
    """One story, read alone, with the edit times builds recorded for it."""
    site = ws.store.read_site()
    read = ws.store.read_story(slug, site)
    if read.story is None:
        stories = ws.store.scan().stories  # only now: it lists every story
        if slug in stories:
            raise StoreError(read.problems)
        known = ", ".join(stories) or "none yet"
        raise FeedsError(f"no story {slug!r} in {ws.store.describe()} (stories: {known})")
    if read.problems:
        raise StoreError(read.problems)
    refresh_state(ws)
    history = load_history(ws.state, slug)
    done = reconcile_story(
        read.story,
        history,
        now,
        site.tombstone_days,
        history_complete=True,
        notice_days=site.retraction_notice_days,
    )
    published = done.story.story.updates if done.story else ()
    return View((read.story,), {u.id: u.updated for u in published}, now)


def export_update(view: View, update: Update) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": update.id,
        "anchor": update.anchor,
        "url": update.url,
        "published": rfc3339(update.published),
        "updated": rfc3339(view.updated_of(update)),
        "title": update.title,
        "text": update.text,
        "html": update.html,
        "authors": [
            {k: v for k, v in (("name", p.name), ("email", p.email), ("uri", p.uri)) if v}
            for p in update.authors
        ],
        "status": view.status_of(update) or "published",
    }
    if update.retracted:
        record["retraction_note"] = update.retraction_note
    return record


def export_story(view: View, story: Story) -> dict[str, Any]:
    return {
        "slug": story.slug,
        "title": story.title,
        "summary": story.summary,
        "url": story.url,
        "timezone": story.timezone,
        "language": story.language,
        "status": story.status,
        "tags": list(story.tags),
        "updates": [export_update(view, u) for u in story.updates],
    }


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


# A build only notices output whose size changed (or that is missing); an
# edit that kept the size needs --force.
_OUT_OF_DATE = "out of date: run feeds build (feeds build --force if it says nothing changed)"


def check_output(ws: Workspace, reconciled: Reconciled) -> list[Problem]:
    """Compare the output with what a build would write now, without writing."""
    from lxml import etree

    from .build.site import render_all

    problems: list[Problem] = []
    expected = render_all(reconciled)
    output = ws.output

    def where(name: str) -> Path | str:
        return output.where(name) if isinstance(ws.out, str) else ws.out / name

    for name, data in sorted(expected.items()):
        try:
            actual = output.read(name)
        except OSError as exc:
            problems.append(Problem(where(name), None, f"cannot read it ({exc.strerror})"))
            continue
        if actual is None:
            problems.append(Problem(where(name), None, "missing: run feeds build"))
            continue
        if name.endswith((".xml", ".opml", ".xsl")):
            # Even when it is what a build would write: no file may be one no reader parses.
            try:
                etree.fromstring(actual)
            except etree.XMLSyntaxError as exc:
                message = f"not well-formed XML ({exc.msg}); run feeds build"
                problems.append(Problem(where(name), exc.lineno, message))
                continue
        if actual != data:
            problems.append(Problem(where(name), None, _OUT_OF_DATE))
    index = Index.load(ws.state)
    written = set(index.files()) if index else set()
    for name in sorted(written - set(expected)):
        if output.read(name) is not None:
            problems.append(
                Problem(where(name), None, "left over from a removed story: run feeds build")
            )
    return problems
