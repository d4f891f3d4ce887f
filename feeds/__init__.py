"""feeds: live-blog stories from a store, out as RSS 2.0, Atom 1.0, JSON Feed and HTML pages.

Library use::

    from feeds import Workspace, run_build

    ws = Workspace.of("data", "out")            # a file store, output and state folders
    result = run_build(ws)                      # raises StoreError listing every problem
    print(result.summary())

    # The stages, one by one (what a build does for every story):
    from datetime import UTC, datetime
    from feeds import read_all, render_all
    from feeds.reconcile import History, reconcile

    snapshot = read_all(ws.store)               # what the store holds
    history = History.empty()                   # or what builds recorded (feeds.build.state)
    published = reconcile(snapshot, history, datetime.now(UTC), 30)  # what readers get
    files = render_all(published)               # {path: bytes}; only takes reconciled input

Names are imported on first use, so that ``feeds build`` with nothing to do
does not pay for the parser and renderers (Markdown, nh3) it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    "AuthoringError": "errors",
    "FeedsError": "errors",
    "Problem": "errors",
    "PublishError": "errors",
    "StoreError": "errors",
    "Feed": "model",
    "Person": "model",
    "Site": "model",
    "Snapshot": "model",
    "Story": "model",
    "Update": "model",
    "History": "reconcile",
    "Published": "reconcile",
    "Reconciled": "reconcile",
    "BuildResult": "build",
    "render_all": "build",
    "run_build": "build",
    "read_all": "query",
    "Workspace": "settings",
    "FileStore": "store.files",
    "MemoryStore": "store.memory",
    "Store": "store",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .build import BuildResult as BuildResult
    from .build import render_all as render_all
    from .build import run_build as run_build
    from .errors import AuthoringError as AuthoringError
    from .errors import FeedsError as FeedsError
    from .errors import Problem as Problem
    from .errors import PublishError as PublishError
    from .errors import StoreError as StoreError
    from .model import Feed as Feed
    from .model import Person as Person
    from .model import Site as Site
    from .model import Snapshot as Snapshot
    from .model import Story as Story
    from .model import Update as Update
    from .query import read_all as read_all
    from .reconcile import History as History
    from .reconcile import Published as Published
    from .reconcile import Reconciled as Reconciled
    from .settings import Workspace as Workspace
    from .store import Store as Store
    from .store.files import FileStore as FileStore
    from .store.memory import MemoryStore as MemoryStore


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'feeds' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
