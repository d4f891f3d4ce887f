"""The build: a store's stories to an output's files, in named steps.

::

    run.py     run_build: lock, plan, story step, site step, commit
    plan.py    what changed, from versions, the clock and --force (pure)
    story.py   one story: read, reconcile, render its folder, stage it
    folder.py  a story's folder (feeds and archives), its digest, the render key
    site.py    the one site-folder renderer and the choice of its items
    commit.py  markers, staged files into place, removals, state, index
    state.py   the typed build state (index.json, stories/*.json, site.json)
    lock.py    the build lock; parallel.py worker processes for big builds

Names are imported on first use, so that an idle build imports no renderer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BuildResult": "commit",
    "run_build": "run",
    "render_all": "site",
    "render_site": "site",
    "story_folder": "folder",
}

if TYPE_CHECKING:
    from .commit import BuildResult as BuildResult
    from .folder import story_folder as story_folder
    from .run import run_build as run_build
    from .site import render_all as render_all
    from .site import render_site as render_site


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'feeds.build' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = sorted(_EXPORTS)
