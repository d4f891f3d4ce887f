"""Site settings defined once (SETTINGS), and the workspace every command resolves once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import FeedsError, Problem

if TYPE_CHECKING:
    from .model import Site
    from .publish import Output
    from .store import Store
    from .store.problems import Table

SITE_TOML = "site.toml"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str  # string, url, id_authority, person, language, timezone, integer, path
    help: str
    default: str | int | None = None  # None: required (or, for paths, see the workspace)
    low: int = 0  # integers: the range allowed
    high: int = 0
    example: str = ""  # what `feeds init` writes when it is not given
    shapes_output: bool = True  # part of what every output file is rendered from


SETTINGS: tuple[Setting, ...] = (
    Setting("title", "string", "The site's name, shown by feed readers.", example='"Live desk"'),
    Setting(
        "base_url",
        "url",
        "Where out/ is published; every link and feed URL starts with it.",
        example='"https://news.example.org/live/"',
    ),
    Setting(
        "id_authority",
        "id_authority",
        "The RFC 4151 tag: authority of every item id: a domain you controlled in a year "
        "(or an email address) and that year. Part of every id: never change it, even if "
        "base_url moves.",
        example='"news.example.org,2018"',
    ),
    Setting(
        "author",
        "person",
        'Who the feeds credit: "Newsroom" or "Name <email>".',
        example='"Live desk"',
    ),
    Setting("language", "language", "Language tag of the site and its stories.", "en"),
    Setting("timezone", "timezone", "IANA zone of new stories' local times.", "UTC"),
    Setting(
        "items_per_feed",
        "integer",
        "Updates in each current feed; older ones go to RFC 5005 archive pages.",
        50,
        1,
        10_000,
    ),
    Setting("description", "string", "One sentence about the site (feed subtitle).", ""),
    Setting(
        "tombstone_days",
        "integer",
        "Days a retracted or deleted update is announced as an Atom tombstone.",
        30,
        0,
        3650,
    ),
    Setting(
        "retraction_notice_days",
        "integer",
        "Days a retracted update stays in the feeds as a notice that it was withdrawn.",
        7,
        0,
        3650,
    ),
    Setting(
        "cache_max_age",
        "integer",
        "Seconds that clients and caches may keep a feed or page (Cache-Control, sent by "
        "`feeds serve` and set on uploaded objects).",
        60,
        0,
        86_400,
        shapes_output=False,
    ),
    Setting(
        "archive_max_age",
        "integer",
        "Seconds that clients and caches may keep an RFC 5005 archive page, which changes "
        "only when an old update is edited (Cache-Control of uploaded objects).",
        86_400,
        0,
        31_536_000,
        shapes_output=False,
    ),
    Setting(
        "ttl", "integer", "Minutes that RSS <ttl> asks pollers to wait (0: no <ttl>).", 0, 0, 10_080
    ),
    Setting("websub_hub", "url", "A WebSub hub to announce in the feeds and ping.", ""),
    Setting(
        "import_allow_hosts",
        "string",
        "Hosts that feeds import and feeds follow may fetch from although they are not public "
        'addresses (an intranet, a test server), separated by spaces: "127.0.0.1 wire.internal".',
        "",
        shapes_output=False,
    ),
    Setting(
        "follow_contact",
        "string",
        "How a site that feeds follow polls can reach you: a URL or an email address, sent "
        "in the User-Agent of every request (feeds follow does not start without it).",
        "",
        shapes_output=False,
    ),
    Setting(
        "store",
        "store",
        "Where the stories are kept: this folder, or a PostgreSQL URL "
        '(store = "postgresql://db.example.org/news") that every machine\'s feeds uses; '
        "then this file needs nothing else.",
        "",
        shapes_output=False,
    ),
    Setting(
        "out",
        "path",
        "Where the feeds are written: a folder (relative to the folder holding data/), or "
        'a bucket of an S3-compatible service, out = "s3://bucket/prefix/".',
        "out",
        shapes_output=False,
    ),
    Setting(
        "endpoint_url",
        "url",
        "For out = s3://...: the service's S3 endpoint, unless it is AWS "
        '(endpoint_url = "https://<account>.r2.cloudflarestorage.com"); AWS_ENDPOINT_URL_S3 '
        "or the AWS profile may give it instead.",
        "",
        shapes_output=False,
    ),
    Setting(
        "publish_hook",
        "string",
        "Run after a build changed the output, with the public URLs of what changed (to "
        "purge a CDN, say): an http(s) URL is POSTed them as JSON, a command gets them on "
        "standard input, one per line. Read from this file (or FEEDS_PUBLISH_HOOK), "
        "never from a database.",
        "",
        shapes_output=False,
    ),
    Setting(
        "state",
        "path",
        "The build state and locks (relative to the folder holding data/).",
        ".feeds",
        shapes_output=False,
    ),
)
BY_KEY = {s.key: s for s in SETTINGS}
# Where a command reads and writes, not what the site is: not part of Site.
# Read from the site.toml beside the store (or the environment), never from a database.
WORKSPACE_KEYS = ("store", "out", "state", "endpoint_url", "publish_hook")
# Read by one command only (command_setting), checked with the others, not part of Site.
COMMAND_KEYS = ("follow_contact",)


def default(key: str) -> str | int | None:
    return BY_KEY[key].default


def help_lines() -> list[str]:
    """Every setting with its default, for ``feeds init --help`` and the docs."""
    lines = []
    for s in SETTINGS:
        value = "required" if s.default is None else f"default {s.default!r}"
        lines.append(f"{s.key} ({value}): {s.help}")
    return lines


def site_template(values: dict[str, str]) -> str:
    """site.toml as ``feeds init`` writes it: the given values, then the rest commented."""
    lines = ["# The site. Every key is described by `feeds init --help`."]
    for s in SETTINGS:
        if s.key in values:
            lines.append(f"{s.key} = {_toml(values[s.key], s)}")
    for s in SETTINGS:
        if s.key not in values:
            shown = s.example if s.default is None else _toml(s.default, s)
            lines.append(f"# {s.key} = {shown}  # {s.help}")
    return "\n".join(lines) + "\n"


def _toml(value: str | int, setting: Setting) -> str:
    from .store.storytext import toml_string

    return str(int(value)) if setting.kind == "integer" else toml_string(str(value))


def load_site(where: Path | str, raw: bytes, found: list[Problem]) -> Site | None:
    """site.toml's settings, checked (the workspace paths too, which the Site does not hold)."""
    from .model import Site
    from .store.people import person
    from .store.problems import Problems, Table, read_toml

    problems = Problems(where)
    text, data = read_toml(raw, problems)
    if problems:
        found.extend(problems.items)
        return None
    table = Table(data, text.split("\n") if text else [], 1, problems)
    table.reject_unknown(tuple(BY_KEY), SITE_TOML)
    table.reject_control_characters()
    values: dict[str, object] = {}
    for s in SETTINGS:
        if s.kind == "integer":
            assert isinstance(s.default, int)
            values[s.key] = table.integer(s.key, s.default, s.low, s.high)
        elif s.kind == "language":
            values[s.key] = table.language(default=str(s.default))
        elif s.kind == "timezone":
            tz = table.timezone(default=str(s.default))
            values[s.key] = tz.key if tz else "UTC"
        elif s.kind == "id_authority":
            values[s.key] = table.string(s.key)  # its own message when missing, below
        elif s.kind != "person":
            values[s.key] = table.string(s.key, required=s.default is None)
            if s.kind == "path" and s.key in data and not str(values[s.key]).strip():
                table.complain(s.key, f'{s.key} must be a folder, like {s.key} = "{s.default}"')
    base_url = str(values["base_url"])
    if base_url:
        if not _http_url(base_url):
            table.complain(
                "base_url",
                f"base_url {base_url!r} must be an absolute http(s) URL such as "
                '"https://news.example.org/live/"',
            )
        values["base_url"] = base_url.rstrip("/") + "/"
    _check_id_authority(
        "id_authority" in data, str(values["id_authority"]), table, str(values["base_url"])
    )
    if "author" not in data:
        problems.add(1, 'missing author: add author = "Newsroom name" (or "Name <email>")')
    else:
        who = person(data["author"])
        if isinstance(who, str):
            table.complain("author", who)
        else:
            values["author"] = who
    hub = str(values["websub_hub"])
    if hub and not re.match(r"^https?://[^\s/]+", hub):
        table.complain("websub_hub", f"websub_hub {hub!r} must be the hub's http(s) URL")
    endpoint = str(values["endpoint_url"])
    if endpoint and not _http_url(endpoint):
        table.complain(
            "endpoint_url",
            f"endpoint_url {endpoint!r} must be the service's http(s) URL, like "
            '"http://127.0.0.1:9000" for MinIO',
        )
    contact = str(values["follow_contact"])
    if contact and not _contact(contact):
        table.complain(
            "follow_contact",
            f"follow_contact {contact!r} must be an http(s) URL or an email address, like "
            '"https://news.example.org/about/feeds" or "desk@news.example.org"',
        )
    if problems or "author" not in values:
        found.extend(problems.items)
        return None
    for key in WORKSPACE_KEYS + COMMAND_KEYS:
        values.pop(key, None)
    values["ttl"] = values["ttl"] or None
    values["websub_hub"] = values["websub_hub"] or None
    return Site(**values)  # type: ignore[arg-type]


def command_setting(raw: bytes, key: str) -> str:
    """A setting of COMMAND_KEYS from the site's settings (site.toml's bytes, or a
    database's), which ``load_site`` has checked: "" when it is not set."""
    from .store.problems import parse_toml

    assert key in COMMAND_KEYS
    try:
        value = parse_toml(raw.decode("utf-8-sig")).get(key, "")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ""
    return value.strip() if isinstance(value, str) else ""


_EMAIL = re.compile(r"^[^@\s<>()\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def _contact(value: str) -> bool:
    """A URL or an email address that can go in a header: nothing that could end it or
    the product comment it sits in (white space, parentheses)."""
    if re.search(r"[\s()]", value) or not value.isascii():
        return False
    return bool(_EMAIL.match(value)) or (
        value.lower().startswith(("http://", "https://")) and bool(url_host(value))
    )


def url_host(url: str) -> str:
    """The URL's host name, or "" (also for a URL that cannot be parsed: ``http://[::1``)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsed on access: "http://x:99999" raises here)
    except ValueError:
        return False
    return not (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or re.search(r"[\s<>\"{}|\\^`]", url)
    )


def _check_id_authority(given: bool, id_authority: str, table: Table, base_url: str) -> None:
    from .model import ID_AUTHORITY_RE

    if not given:
        host = url_host(base_url) or "example.org"
        table.problems.add(
            1,
            f'missing id_authority: add id_authority = "{host},YYYY" with a year in which you '
            f"controlled {host} (or an email address); it is part of every item id and must "
            "never change",
        )
    elif not ID_AUTHORITY_RE.match(id_authority) or not _valid_tag_date(id_authority):
        table.complain("id_authority", _BAD_AUTHORITY.format(id_authority))


_BAD_AUTHORITY = (
    "id_authority {!r} must be a domain or email and a date, as RFC 4151 "
    'tag: URIs need: "example.org,2018" or "desk@example.org,2018-05-16"'
)


def _valid_tag_date(authority: str) -> bool:
    """RFC 4151's date is a real calendar date: 2018, 2018-05 or 2018-05-16."""
    parts = [int(p) for p in authority.rpartition(",")[2].split("-")]
    try:
        date(parts[0], *(parts[1:] + [1, 1])[:2])
    except ValueError:
        return False
    return True


# --- the workspace -------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """Where a command reads and writes: the store, the output, the build state."""

    store: Store
    out: Path | str  # a folder, or a bucket's s3:// URL
    state: Path
    output: Output
    hook: str | None = None  # publish_hook: told what changed after a build

    @classmethod
    def of(
        cls,
        data: Path | str,
        out: Path | str,
        state: Path | str | None = None,
        endpoint_url: str | None = None,
        hook: str | None = None,
        endpoint_from: str = "",
    ) -> Workspace:
        """A file store in ``data``, output to ``out``, state in ``state`` (default
        ``.feeds/`` beside ``data``)."""
        from .store.files import FileStore

        store = FileStore(Path(data))
        state_dir = Path(state) if state is not None else store.meta
        store_dir = store.root.absolute()
        folders = [("state", state_dir)] + ([] if is_bucket(out) else [("output", Path(out))])
        for name, folder in folders:
            where = folder.absolute()
            if where == store_dir or store_dir in where.parents:
                raise FeedsError(
                    f"{folder}: the {name} folder is inside the store ({store.root}), which "
                    f"holds only stories and site.toml: choose a folder beside it"
                )
        return cls(store, *_output(out, state_dir, endpoint_url, endpoint_from), hook)

    @classmethod
    def of_database(
        cls,
        url: str,
        out: Path | str,
        state: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        endpoint_url: str | None = None,
        hook: str | None = None,
        endpoint_from: str = "",
    ) -> Workspace:
        """A PostgreSQL store; the build state mirrored in ``state`` (default: a cache
        folder of this user's named after the database)."""
        import hashlib

        from .store.postgres import PostgresStore

        store = PostgresStore(url)
        if state is None:
            env = os.environ if env is None else env
            cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            name = hashlib.sha256(store.identity().encode()).hexdigest()[:16]
            state = cache / "feeds" / name
        return cls(store, *_output(out, Path(state), endpoint_url, endpoint_from), hook)


def is_bucket(out: Path | str | None) -> bool:
    """Is ``out`` a bucket (``s3://bucket/prefix/``) rather than a folder?"""
    return isinstance(out, str) and out[:3].lower() == "s3:"  # s3:x is a mistyped bucket


def _output(
    out: Path | str, state: Path, endpoint_url: str | None, endpoint_from: str = ""
) -> tuple[Path | str, Path, Output]:
    if is_bucket(out):
        from .publish.s3 import S3Output, parse_bucket_url

        bucket = parse_bucket_url(str(out), endpoint_url, endpoint_from)
        return bucket.url, state, S3Output(bucket, state)
    from .publish.files import FolderOutput

    return Path(out), state, FolderOutput(Path(out))


def resolve_workspace(
    data: Path | None = None,
    out: Path | str | None = None,
    state: Path | None = None,
    env: Mapping[str, str] | None = None,
    store: str | None = None,
) -> Workspace:
    """The workspace every command uses, resolved once.

    The store is ``store`` (a folder or a ``postgresql://`` URL), else
    ``FEEDS_STORE``, else ``store`` in ``data/site.toml``, else the folder
    ``data`` (``FEEDS_DATA``). The output and the state come from the command
    line, else the environment (``FEEDS_OUT``, ``FEEDS_STATE``), else
    ``out``/``state`` in site.toml (relative to the folder that holds the
    store), else the defaults: ``out`` and ``.feeds/`` beside the store; for a
    database, the build state is kept in the database and mirrored in a cache
    folder (``~/.cache/feeds/``). The output is a folder or a bucket
    (``s3://bucket/prefix/``, with ``endpoint_url`` from site.toml or the URL).
    ``publish_hook`` comes from ``FEEDS_PUBLISH_HOOK``, else site.toml.
    """
    from .store.postgres import is_url

    env = os.environ if env is None else env
    if store and data:
        raise FeedsError("give the store once: --store or --data, not both")
    # A flag beats the environment: --data DIR is not overruled by FEEDS_STORE.
    chosen = store or (None if data else env.get("FEEDS_STORE") or None)
    if chosen and not is_url(chosen):
        data, chosen = Path(chosen), None
    data = data or Path(env.get("FEEDS_DATA") or "data")
    base = data.absolute().parent
    written = _paths_in(data / SITE_TOML)
    if chosen is None and is_url(written.get("store")):
        chosen = written["store"]
        extra = sorted(written.get("keys", "").split()) if written.get("keys") else []
        if extra:
            raise FeedsError(
                f"{data / SITE_TOML}: with store = a database, the site's settings are kept in "
                f"the database: remove {', '.join(extra)} from this file (feeds edit-settings "
                "changes them there)"
            )
    if out is None:
        given = env.get("FEEDS_OUT")
        if given:
            out = given
        elif "out" in written:
            out = written["out"] if is_bucket(written["out"]) else base / written["out"]
        else:
            out = Path("out")
    if not is_bucket(out):
        out = Path(out)
    if state is None:
        given = env.get("FEEDS_STATE")
        state = Path(given) if given else (base / written["state"] if "state" in written else None)
    endpoint = written.get("endpoint_url")
    hook = env.get("FEEDS_PUBLISH_HOOK") or written.get("publish_hook")
    where = str(data / SITE_TOML)
    if chosen is not None:
        return Workspace.of_database(chosen, out, state, env, endpoint, hook, where)
    return Workspace.of(data, out, state, endpoint, hook, where)


def _paths_in(path: Path) -> dict[str, str]:
    """The workspace keys (``store``, ``out``, ``state``...) as site.toml sets them; nothing
    if it cannot be read (the command that reads the settings says why)."""
    from .store.problems import parse_toml

    try:
        data = parse_toml(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    found = {
        k: v.strip() for k in WORKSPACE_KEYS if isinstance(v := data.get(k), str) and v.strip()
    }
    if "store" in found:  # the other keys, which a file pointing at a database must not have
        found["keys"] = " ".join(k for k in data if k not in WORKSPACE_KEYS)
    return found
