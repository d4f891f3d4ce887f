"""Using every core for the big, embarrassingly parallel parts of a cold build.

Parsing story files and rendering story folders are independent per story.
When there are many of them, they run in a pool of worker processes (one per
CPU); a handful run in this process, where starting workers would cost more
than it saves. Results come back in the order of the inputs, so the output
is the same bytes either way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many items, or on one CPU, everything runs in this process.
THRESHOLD = 64


def ordered_map(
    function: Callable[[T], R],
    items: list[T],
    hold: Path | None = None,
    processes: bool = True,
) -> Iterator[R]:
    """``map(function, items)``, in worker processes when it is worth it.

    Workers hold ``hold`` with a shared lock while they live (see
    feeds.build.lock). ``processes=False``: the items can only be used in this
    process (a store that lives in its memory).
    """
    workers = os.cpu_count() or 1
    if len(items) < THRESHOLD or workers < 2 or not processes:
        yield from map(function, items)
        return
    # Imported here: most builds (one story changed) never start a pool.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, len(items) // (workers * 8))
    # Spawned, not forked: a forked worker would inherit the build lock's file
    # descriptor and, outliving a killed build, keep the next one waiting; and
    # a fork server would outlive it. Spawned workers end with their build.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_exit_with,
        initargs=(os.getpid(), hold),
    ) as pool:
        yield from pool.map(function, items, chunksize=chunk)


def _exit_with(parent: int, hold: Path | None) -> None:
    """In a worker: end when the build that started it is gone (even SIGKILLed)."""
    if hold is not None:
        from .lock import hold_shared

        hold_shared(hold)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
