"""``feeds worker``: a long-running builder for a store in PostgreSQL.

It ``LISTEN``s on the channel every change to the store notifies when it
commits (``feeds_changes``), and builds as soon as one arrives; it also builds
when the next held-back update falls due and every ``interval`` seconds
(embargoes, tombstones that expire, a missed notification). Builds take the
database's build lock (:mod:`feeds.build.shared`), so any number of workers on
any number of machines can run: one builds, the others wait their turn and
then find nothing left to do; if the one building dies, its lock goes with
its connection and the next takes over, repairing what it left half-done.

One line is logged per build that changed something (and per error); SIGTERM
or SIGINT ends the worker once the build in progress is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import DatabaseError, FeedsError, LockBusy
from .timeutil import Clock, system_clock

if TYPE_CHECKING:
    import psycopg

    from .build import BuildResult
    from .settings import Workspace
    from .store.postgres import PostgresStore

RETRY_MAX = 10.0  # seconds between attempts while the database is down
LOCK_WAIT = 5.0  # seconds to wait for the build lock before looking at the signals again


@dataclass
class WorkerStats:
    builds: int = 0  # builds that changed something
    checks: int = 0  # builds that found nothing to do
    errors: int = 0


class Worker:
    def __init__(
        self,
        workspace: Workspace,
        *,
        interval: float = 60.0,
        clock: Clock = system_clock,
        log: Callable[[str], None] = print,
        verbose: bool = False,
    ) -> None:
        from .store.postgres import PostgresStore

        if not isinstance(workspace.store, PostgresStore):
            raise FeedsError(
                "feeds worker builds a store in PostgreSQL (--store postgresql://...); "
                "for a folder, run feeds build from cron or feeds serve --watch"
            )
        self.ws = workspace
        self.store: PostgresStore = workspace.store
        self.interval = interval
        self.clock = clock
        self.log = log
        self.verbose = verbose
        self.stop = threading.Event()
        self.stats = WorkerStats()
        self._listener: psycopg.Connection[Any] | None = None

    # --- signals -------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: object) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # --- the loop ------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        """Build until stopped (or once); the exit status."""
        retry = 1.0
        while not self.stop.is_set():
            try:
                self._listen()  # before building: a change committed meanwhile is heard
                result = self.build_once()
            except DatabaseError as exc:
                self.stats.errors += 1
                self.log(f"error: {exc}")
                self._drop_listener()
                self.store.close()  # every connection afresh: the old ones may be dead
                if once:
                    return 69
                self.stop.wait(retry)
                retry = min(retry * 2, RETRY_MAX)
                continue
            except LockBusy:
                continue  # another worker held the lock all along: try again
            except FeedsError as exc:
                self.stats.errors += 1
                self.log(f"error: {exc}")
                if once:
                    return 1
                self._wait(self.interval)
                continue
            retry = 1.0
            if once:
                return 0
            self._wait(self._until_due(result))
        self._drop_listener()
        return 0

    def build_once(self) -> BuildResult:
        from .build import run_build

        started = time.monotonic()
        # A short wait for the lock: while another worker builds, a SIGTERM is still heard.
        result = run_build(self.ws, clock=self.clock, wait=LOCK_WAIT)
        took = time.monotonic() - started
        for warning in result.warnings:
            self.log(f"warning: {warning}")
        if result.changed or result.repaired:
            self.stats.builds += 1
            stories = ", ".join(result.stories_changed[:5])
            more = len(result.stories_changed) - 5
            stories += f" and {more} more" if more > 0 else ""
            self.log(
                f"built in {took:.2f}s: {result.summary()}"
                + (f" ({stories})" if stories else "")
                + (" after repairing an interrupted build" if result.repaired else "")
            )
        else:
            self.stats.checks += 1
            if self.verbose:
                self.log(f"checked in {took:.3f}s: nothing to do")
        return result

    def _until_due(self, result: BuildResult) -> float:
        timeout = self.interval
        if result.next_due is not None:
            due = (result.next_due - self.clock()).total_seconds()
            timeout = min(timeout, max(due, 0.0) + 0.05)
        return timeout

    # --- notifications -------------------------------------------------------

    def _listen(self) -> None:
        if self._listener is None or self._listener.closed:
            import psycopg

            from .store.postgres import CHANNEL, _reason

            listener = self.store.connect()
            try:
                listener.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as exc:
                listener.close()
                raise DatabaseError(
                    f"{self.store.name}: the database went away while listening for changes "
                    f"({_reason(exc)})"
                ) from None
            self._listener = listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
        self._listener = None

    def _wait(self, timeout: float) -> None:
        """Until a change is notified, ``timeout`` passes, or the worker is stopped."""
        import psycopg

        deadline = time.monotonic() + timeout
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._listener is None:
                self.stop.wait(min(left, 0.5))
                continue
            try:
                # Short slices: a SIGTERM is seen within half a second.
                heard = list(self._listener.notifies(timeout=min(left, 0.5), stop_after=1))
                if heard:
                    # Others committed at the same moment are taken in the same build.
                    list(self._listener.notifies(timeout=0.01))
            except psycopg.Error as exc:
                from .store.postgres import _reason

                self.log(f"error: {self.store.name}: lost the connection ({_reason(exc)})")
                self._drop_listener()
                self.store.close()
                return
            if heard:
                return
