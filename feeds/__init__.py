"""feeds: live-blog stories in a file store, out as RSS 2.0, Atom 1.0 and JSON Feed.

Library use::

    from pathlib import Path
    from feeds import run_build

    result = run_build(Path("data"), Path("out"))   # raises StoreError listing every problem
    print(result.summary())

The pure build stage is ``feeds.build.build`` (``feeds.build`` is its module).
Names are imported on first use, so that ``feeds build`` with nothing to do
does not pay for the parser and renderers (Markdown, nh3) it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
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
    "BuildResult": "pipeline",
    "run_build": "pipeline",
    "PublishReport": "publish",
    "publish": "publish",
    "FileStore": "store",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
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
    from .pipeline import BuildResult as BuildResult
    from .pipeline import run_build as run_build
    from .publish import PublishReport as PublishReport
    from .publish import publish as publish
    from .store import FileStore as FileStore


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'feeds' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
