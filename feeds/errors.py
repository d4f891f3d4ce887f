"""Errors raised by the library.

Every message says what is wrong *and* how to fix it; the CLI prints them as
they are and exits 1. A traceback from ``feeds`` therefore always means a bug.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class FeedsError(Exception):
    """Base class of every error a user can cause."""


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    p = Path(path)
    try:
        rel = os.path.relpath(p)
    except ValueError:  # another drive on Windows
        return str(p)
    return str(p) if rel.startswith("..") else rel


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the store, located as precisely as we can."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = display_path(self.path)
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class StoreError(FeedsError):
    """The store holds bad input; nothing was written."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (str(p.path), p.line or 0)))
        super().__init__("\n".join(str(p) for p in self.problems))


class PublishError(FeedsError):
    """Writing the output failed (disk full, permissions...)."""
