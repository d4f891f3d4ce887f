"""feeds: live-blog stories in a file store, out as RSS 2.0 and Atom 1.0 feeds.

Library use::

    from pathlib import Path
    from feeds import run_build

    result = run_build(Path("data"), Path("out"))   # raises StoreError listing every problem
    print(result.summary())
"""

from .build import build as build
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

__version__ = "0.1.0"
