"""Using every core for the big, embarrassingly parallel parts of a cold build.

Parsing story files and rendering story folders are independent per story.
When there are many of them, they run in a pool of worker processes (one per
CPU); a handful run in this process, where starting workers would cost more
than it saves. Results come back in the order of the inputs, so the output
is the same bytes either way.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many items, or on one CPU, everything runs in this process.
THRESHOLD = 64


def ordered_map(function: Callable[[T], R], items: list[T]) -> Iterator[R]:
    """``map(function, items)``, in worker processes when it is worth it."""
    workers = os.cpu_count() or 1
    if len(items) < THRESHOLD or workers < 2:
        yield from map(function, items)
        return
    chunk = max(1, len(items) // (workers * 8))
    # Not plain fork: a forked worker would inherit the build lock's file
    # descriptor and, outliving a killed build, keep the next one waiting.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(function, items, chunksize=chunk)
