"""WebSub (formerly PubSubHubbub) publisher pings.

When site.toml names a hub, every feed carries ``<atom:link rel="hub">`` next to
its ``rel="self"``, and each build that changed a feed tells the hub, which
then pushes the new content to subscribers at once instead of waiting for
their next poll: an HTTP POST with ``hub.mode=publish`` and ``hub.url=<feed>``.

A hub that is slow or down must never cost a build its files: the ping
happens after everything is written, with a timeout and a few retries, and a
failure comes back as a warning.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from importlib.metadata import version

USER_AGENT = f"feeds/{version('feeds')} (WebSub publisher)"


def ping(
    hub: str,
    feed_urls: list[str],
    *,
    timeout: float = 5.0,
    attempts: int = 3,
    backoff: float = 0.5,
    budget: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Tell ``hub`` that each of ``feed_urls`` changed; return the failures.

    Each round tries every feed not yet acknowledged; rounds are ``backoff``,
    then twice that, apart. ``budget`` bounds the whole call (seconds), so a
    hub that hangs cannot hold up the next build for long.
    """
    deadline = time.monotonic() + budget
    pending = {url: "not attempted: the hub was too slow" for url in feed_urls}
    for attempt in range(attempts):
        for url in list(pending):
            if time.monotonic() > deadline:
                break
            error = _publish(hub, url, timeout)
            if error is None:
                del pending[url]
            else:
                pending[url] = error
        if not pending or time.monotonic() > deadline or attempt + 1 == attempts:
            break
        sleep(backoff * 2**attempt)
    return [
        f"WebSub hub {hub} was not told that {url} changed: {error}"
        for url, error in pending.items()
    ]


def _publish(hub: str, url: str, timeout: float) -> str | None:
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode()
    request = urllib.request.Request(
        hub,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
