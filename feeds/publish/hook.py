"""What follows a publish: telling a CDN (or anything else) which public URLs changed.

``publish_hook`` (site.toml beside the store, or ``FEEDS_PUBLISH_HOOK``) is run
once per build that changed the output, after every file is in place and
every removal done, with the public URLs of the files written or removed (a
story page also as its folder URL, which is how it is fetched):

* an ``http(s)://`` URL is POSTed ``{"urls": [...]}`` as JSON;
* anything else is a command (split as a shell would, but run without one)
  that gets the URLs on standard input, one per line.

Like a WebSub ping, a hook that fails costs a warning, not the build: the files
are already served.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable
from importlib.metadata import version

from ..model import Site

TIMEOUT = 60.0  # seconds, for the command or the request


def changed_urls(site: Site, names: Iterable[str]) -> list[str]:
    """The public URLs of files written or removed: each page also as its folder's URL."""
    urls = set()
    for name in names:
        urls.add(site.url(name))
        if name == "index.html" or name.endswith("/index.html"):
            urls.add(site.url(name[: -len("index.html")]))
    return sorted(urls)


def run_hook(hook: str, urls: list[str], timeout: float = TIMEOUT) -> list[str]:
    """Call the hook with ``urls``; the warnings (none if it succeeded)."""
    if not urls:
        return []
    if hook.startswith(("http://", "https://")):
        return _post(hook, urls, timeout)
    return _command(hook, urls, timeout)


def _post(url: str, urls: list[str], timeout: float) -> list[str]:
    request = urllib.request.Request(
        url,
        data=json.dumps({"urls": urls}).encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"feeds/{version('feeds')} (publish hook)",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(65536)
    except urllib.error.HTTPError as exc:
        return [f"publish_hook {url} answered {exc.code} {exc.reason}; {len(urls)} URLs not sent"]
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return [f"publish_hook {url} could not be reached ({reason}); {len(urls)} URLs not sent"]
    return []


def _command(hook: str, urls: list[str], timeout: float) -> list[str]:
    try:
        args = shlex.split(hook)
    except ValueError as exc:
        return [f"publish_hook {hook!r} is not a command line ({exc}); fix its quotes"]
    if not args:
        return []
    text = "".join(u + "\n" for u in urls)
    try:
        done = subprocess.run(
            args, input=text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        return [f"publish_hook: {args[0]}: command not found; give its full path"]
    except PermissionError:
        return [f"publish_hook: {args[0]}: not executable (chmod +x it)"]
    except subprocess.TimeoutExpired:
        return [f"publish_hook {args[0]} did not finish in {timeout:g} s; it was stopped"]
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1][:300]
        why = f": {last}" if last else ""
        return [f"publish_hook {args[0]} failed (exit {done.returncode}){why}"]
    return []
