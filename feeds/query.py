"""Read-only views of the store and the output: list, show, export, check.

Nothing here writes a byte or takes a lock: these are safe to run at any time,
even while a build is running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from .build import plan
from .errors import Problem
from .history import Reconciled, reconcile
from .model import Snapshot, Story, Update
from .state import load_state
from .store import FileStore
from .timeutil import rfc3339


@dataclass(frozen=True)
class View:
    """The store as a build at ``now`` would publish it."""

    snapshot: Snapshot  # everything in the store
    reconciled: Reconciled  # what is visible at ``now``, with edit times from the build state
    now: datetime
    outputs: frozenset[str]  # files the last build wrote

    def updated_of(self, update: Update) -> datetime:
        for story in self.reconciled.snapshot.stories:
            for visible in story.updates:
                if visible.id == update.id:
                    return visible.updated
        return update.updated

    def status_of(self, update: Update) -> str:
        """ "retracted", "scheduled" (held back until due), "edited" or ""."""
        if update.retracted:
            return "retracted"
        if update.published.astimezone(UTC) > self.now.astimezone(UTC):
            return "scheduled"
        if self.updated_of(update).astimezone(UTC) != update.published.astimezone(UTC):
            return "edited"
        return ""


def load_view(data_dir: Path, state_dir: Path, now: datetime) -> View:
    snapshot = FileStore(data_dir).load()
    state, _ = load_state(state_dir)
    reconciled = reconcile(snapshot, state.history, now, snapshot.site.tombstone_days)
    return View(snapshot, reconciled, now, frozenset(state.outputs))


def find_story(snapshot: Snapshot, slug: str) -> Story | None:
    return next((s for s in snapshot.stories if s.slug == slug), None)


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


def check_output(view: View, out_dir: Path) -> list[Problem]:
    """Compare ``out_dir`` with what a build would write now, without writing."""
    problems: list[Problem] = []
    expected: dict[str, bytes] = {}
    for folder in plan(view.reconciled.snapshot, view.reconciled.tombstones).values():
        expected.update(folder.render())
    for name, data in sorted(expected.items()):
        path = out_dir / name
        try:
            actual = path.read_bytes()
        except FileNotFoundError:
            problems.append(Problem(path, None, "missing: run feeds build"))
            continue
        except OSError as exc:
            problems.append(Problem(path, None, f"cannot read it ({exc.strerror})"))
            continue
        if actual == data:
            continue
        if not name.endswith((".xml", ".opml", ".xsl")):
            problems.append(Problem(path, None, _OUT_OF_DATE))
            continue
        try:
            etree.fromstring(actual)
        except etree.XMLSyntaxError as exc:
            problems.append(
                Problem(path, exc.lineno, f"not well-formed XML ({exc.msg}); run feeds build")
            )
            continue
        problems.append(Problem(path, None, _OUT_OF_DATE))
    for name in sorted(view.outputs - set(expected)):
        if (out_dir / name).exists():
            problems.append(
                Problem(out_dir / name, None, "left over from a removed story: run feeds build")
            )
    return problems
