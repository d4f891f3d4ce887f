"""Where stories come from. A store turns its source into a :class:`Snapshot`.

Only one backend exists today, :class:`FileStore` (``data/site.toml`` plus one
Markdown file per story); the protocol is what the build depends on.
"""

from __future__ import annotations

from typing import Protocol

from ..model import Snapshot
from .files import FileStore as FileStore
from .storyfile import parse_story as parse_story


class Store(Protocol):
    def load(self) -> Snapshot:
        """Read and validate everything; raise StoreError listing every problem."""
        ...


__all__ = ["FileStore", "Store", "parse_story"]
