"""One build at a time: an exclusive ``flock`` on ``<state>/build.lock``.

The kernel drops the lock when its holder exits, however it exits (even
SIGKILL), so a crashed build never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import FeedsError

LOCK_FILE = "build.lock"


class LockBusy(FeedsError):
    """Another build held the lock for longer than we were willing to wait."""


@contextmanager
def build_lock(state_dir: Path, wait: float) -> Iterator[None]:
    path = state_dir / LOCK_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FeedsError(
            f"{path}: cannot create the build lock ({exc.strerror}); make the folder writable "
            "or choose another with --state"
        ) from exc
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise LockBusy(
                        f"another build (pid {holder}) is still running after {wait:g}s; "
                        "nothing was done. It will publish what it read; the next run "
                        "publishes the rest. Use --wait to wait longer."
                    ) from None
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
