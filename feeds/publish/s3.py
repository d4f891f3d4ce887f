"""The output as objects in a bucket: AWS S3, and every service that speaks its API.

``out = "s3://bucket/prefix/"`` publishes each file of the build as the object
``prefix/<name>``, written through boto3, the AWS SDK for Python: the client
that S3-compatible services (Cloudflare R2, MinIO, Ceph, Backblaze B2, GCS's
XML API) document first, and the one that reads the standard configuration
as every AWS tool does: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, ``~/.aws/config`` and ``~/.aws/credentials``, SSO and
instance roles, the region, and ``endpoint_url`` (or ``AWS_ENDPOINT_URL_S3``)
for a service other than AWS. It is imported only when a build has something
to upload.

What the bucket holds is recorded in ``objects.json`` in the build state: each
object's MD5 (the ETag S3 gives an object written by one PUT) and size, as
uploaded. A build compares what it renders with that record and uploads only
what differs, so a build with nothing to do sends no request at all. After a
build that may have been interrupted, or without a record (a new machine, a
new target), the record is made again by listing the bucket (ListObjectsV2,
1,000 keys per request), and what is already there is not uploaded again.

Each PUT is atomic; a set of them is not. The build publishes in batches
(feeds.publish.publication_order), each only after the one before is
complete, so no published document links to an object not there yet. Within
a batch, up to ``concurrency`` uploads run at once; throttling (503 SlowDown)
and transient errors are retried with exponential backoff and jitter
(botocore's "standard" retry mode). An upload that still fails stops the
build before the next batch, with a message saying why; what was already
served stays served.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import FeedsError, PublishError
from .files import write_if_changed

if TYPE_CHECKING:
    from ..model import Site
    from . import Staged

OBJECTS_FILE = "objects.json"  # in the build state: what the bucket holds
UPLOAD_FOLDER = "upload"  # in the build state: files staged for upload
CONCURRENCY = 16  # uploads at once
MAX_ATTEMPTS = 8  # per request, retries included (AWS_MAX_ATTEMPTS overrides it)
DELETE_BATCH = 1000  # keys per DeleteObjects request: S3's limit

# S3's rules for bucket names, with the underscores and capitals some services allow.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")
_QUERY_KEYS = ("endpoint_url", "region")


# A record entry: the object's MD5 and size, and a digest of its Content-Type and
# Cache-Control ("" when not known: an object found by listing the bucket).
Entry = tuple[str, int, str]


def headers_digest(media_type: str, cache_control: str) -> str:
    return hashlib.md5(
        f"{media_type}\n{cache_control}".encode(), usedforsecurity=False
    ).hexdigest()[:12]


@dataclass(frozen=True)
class Bucket:
    """Where the objects go: a bucket, a key prefix, and the service."""

    name: str
    prefix: str = ""  # "" or ends with "/"
    endpoint_url: str | None = None  # None: AWS, or what the AWS configuration says
    region: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + name

    def identity(self) -> str:
        """What the record of the bucket's objects is valid for: the bucket, and the
        endpoint wherever it was given (an endpoint set in an AWS profile is not seen
        here: after changing it, run feeds build --force, which lists the bucket)."""
        env = os.environ
        endpoint = (
            self.endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        )
        return f"{self.url} {endpoint or ''} {env.get('AWS_PROFILE') or ''}".rstrip()


def parse_bucket_url(url: str, endpoint_url: str | None = None, given_in: str = "") -> Bucket:
    """``s3://bucket/prefix/`` (optionally ``?endpoint_url=...&region=...``), checked;
    ``endpoint_url`` as ``given_in`` (site.toml) gives it, unless the URL does."""
    parts = urlsplit(url)
    example = 'like s3://news-feeds/live/ (and endpoint_url = "https://..." for R2 or MinIO)'
    if parts.scheme.lower() != "s3" or not parts.netloc or not url[5:].strip():
        raise FeedsError(f"{url}: not a bucket URL; write it {example}")
    if "@" in parts.netloc:
        raise FeedsError(
            f"s3://...@{parts.netloc.rpartition('@')[2]}: no credentials in the URL; give "
            "them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or in ~/.aws/credentials"
        )
    if not _BUCKET.fullmatch(parts.netloc):
        raise FeedsError(
            f"{url}: {parts.netloc!r} is not a bucket name (3 to 63 letters, digits, dots "
            f"and hyphens); write it {example}"
        )
    prefix = parts.path[1:]
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if (
        prefix.startswith("/")
        or "//" in prefix
        or any(p in (".", "..") for p in prefix.split("/")[:-1])
    ):
        raise FeedsError(f"{url}: the prefix must be plain folder names, {example}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_QUERY_KEYS))
    if unknown or parts.fragment:
        raise FeedsError(
            f"{url}: unknown option {', '.join(unknown) or '#' + parts.fragment}; the URL "
            f"takes {' and '.join(_QUERY_KEYS)}"
        )
    endpoint = options.get("endpoint_url") or endpoint_url or None
    if endpoint is not None and not re.match(r"^https?://[^\s/]+", endpoint, re.IGNORECASE):
        where = f"{given_in}: " if given_in and "endpoint_url" not in options else ""
        raise FeedsError(
            f"{where}endpoint_url {endpoint!r} must be the service's http(s) URL, like "
            '"https://<account>.r2.cloudflarestorage.com"'
        )
    return Bucket(parts.netloc, prefix, endpoint, options.get("region") or None)


_serial = itertools.count()


class S3Output:
    """The output as a bucket's objects under a prefix (see the module's description)."""

    def __init__(self, bucket: Bucket, state_dir: Path, concurrency: int = CONCURRENCY) -> None:
        self.bucket = bucket
        self.state_dir = state_dir
        self.concurrency = concurrency
        self._objects: dict[str, Entry] | None = None  # name -> (md5, size, headers)
        self._changed = False  # the record holds what objects.json does not yet
        self._signature: tuple[int, int, int] | None = None  # objects.json's, when read
        self._client: Any = None
        self._lock = threading.Lock()
        self.requests = 0  # requests sent by this process (retries not counted), for callers

    def __repr__(self) -> str:
        return f"S3Output({self.bucket.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Sent to the build's worker processes, which only stage: no client, no record.
        return {"bucket": self.bucket, "state_dir": self.state_dir, "concurrency": self.concurrency}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["bucket"], state["state_dir"], state["concurrency"])  # type: ignore[misc]

    def where(self, name: str = "") -> str:
        return self.bucket.url + name

    # --- the record of what the bucket holds -----------------------------------

    @property
    def objects(self) -> dict[str, Entry]:
        """The record; read again if another process (a build elsewhere, whose state was
        fetched; a command run beside a worker) replaced the file since."""
        if self._objects is not None and self._signature != self._stat():
            self._objects = None
        if self._objects is None:
            self._objects = self._load()
            if self._objects is None:
                self._objects = self._list({})
                self._changed = True
        return self._objects

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.state_dir / OBJECTS_FILE)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> dict[str, Entry] | None:
        self._signature = self._stat()
        try:
            data = json.loads((self.state_dir / OBJECTS_FILE).read_bytes())
            if data["bucket"] != self.bucket.identity():
                return None
            return {
                name: (md5, int(size), str(headers))
                for name, (md5, size, headers) in data["objects"].items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or unreadable: the bucket is listed again

    def finish(self) -> None:
        """Save the record (after a build, whether it had anything to do or not)."""
        if self._objects is None or not self._changed:
            return
        body = {"bucket": self.bucket.identity(), "objects": dict(sorted(self._objects.items()))}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_if_changed(
            self.state_dir / OBJECTS_FILE, json.dumps(body, separators=(",", ":")).encode()
        )
        self._signature = self._stat()
        self._changed = False

    def _list(self, known: dict[str, Entry]) -> dict[str, Entry]:
        """The bucket's objects under the prefix, from the bucket itself. A listing has
        no headers: those of ``known`` are kept for objects with the same MD5 and size."""
        found: dict[str, Entry] = {}
        client = self.client()
        paginator = client.get_paginator("list_objects_v2")
        skip = len(self.bucket.prefix)
        try:
            for page in paginator.paginate(Bucket=self.bucket.name, Prefix=self.bucket.prefix):
                self.requests += 1
                for item in page.get("Contents", ()):
                    # An ETag with "-" (a multipart upload) or from encryption with
                    # KMS is no MD5 and never matches: such an object is uploaded again.
                    name, md5, size = item["Key"][skip:], item["ETag"].strip('"'), int(item["Size"])
                    was = known.get(name)
                    found[name] = (md5, size, was[2] if was and was[:2] == (md5, size) else "")
        except Exception as exc:
            raise self._error("list", "", exc) from exc
        return found

    def sizes_differ(self, files: dict[str, int]) -> bool:
        objects = self.objects
        return any(objects.get(name, ("", -1))[1] != size for name, size in files.items())

    # --- staging --------------------------------------------------------------

    def stage(self, name: str, data: bytes, new: bool = False) -> str | None:
        """Keep the bytes in the state's upload folder until the build publishes them
        (compared with the record then, headers included)."""
        folder = self.state_dir / UPLOAD_FOLDER
        path = folder / f"{os.getpid()}-{next(_serial)}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return str(path)

    def discard(self, staged: Iterable[str]) -> None:
        for token in staged:
            with contextlib.suppress(OSError):
                os.unlink(token)

    def sweep(self) -> None:
        """After a killed build, or for --force: drop what was staged, and list the bucket
        again (what is there is what counts, whatever the record says)."""
        folder = self.state_dir / UPLOAD_FOLDER
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
        known = self._objects if self._objects is not None else (self._load() or {})
        self._objects = self._list(known)
        self._changed = True

    def policy(self, site: Site) -> str:
        """What, besides the bytes, a change of which must reach every object: the headers."""
        return f"Cache-Control {site.cache_max_age} {site.archive_max_age}"

    def make_folder(self, folder: str) -> bool:
        return False  # a bucket has no folders: every object is compared with the record

    def prune(self, folders: Iterable[str], keep_root: bool) -> None:
        pass

    def exists(self) -> bool:
        return True

    # --- publishing -----------------------------------------------------------

    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _make_client(self.bucket, self.concurrency)
        return self._client

    def publish(self, batch: Sequence[Staged]) -> list[str]:
        """Upload the batch, up to ``concurrency`` at once; the names uploaded."""
        if not batch:
            return []
        objects = self.objects
        uploaded: list[str] = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="feeds-upload") as pool:
            futures: dict[Future[bool], Staged] = {
                pool.submit(self._upload, item, objects): item for item in batch
            }
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
        failed: tuple[Staged, BaseException] | None = None
        for future, item in futures.items():
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is not None:
                failed = failed or (item, exc)
            elif future.result():
                uploaded.append(item.name)
        if failed is not None:
            self.discard(item.token for item in batch)
            item, exc = failed
            if isinstance(exc, FeedsError):
                raise exc
            raise self._error("upload", item.name, exc) from exc
        return uploaded

    def _upload(self, item: Staged, objects: dict[str, Entry]) -> bool:
        with open(item.token, "rb") as fh:
            data = fh.read()
        digest = hashlib.md5(data, usedforsecurity=False)
        record = (
            digest.hexdigest(),
            len(data),
            headers_digest(item.media_type, item.cache_control),
        )
        known = objects.get(item.name)
        if known is not None and known[:2] == record[:2] and known[2] in ("", record[2]):
            if not known[2]:  # found by listing, with the right bytes: taken as right
                with self._lock:
                    objects[item.name] = record
                    self._changed = True
            os.unlink(item.token)
            return False
        headers = {"ContentType": item.media_type}
        if item.cache_control:
            headers["CacheControl"] = item.cache_control
        with self._lock:
            self.requests += 1
        self.client().put_object(
            Bucket=self.bucket.name,
            Key=self.bucket.key(item.name),
            Body=data,
            ContentMD5=base64.b64encode(digest.digest()).decode(),
            **headers,
        )
        with self._lock:
            objects[item.name] = record
            self._changed = True
        os.unlink(item.token)
        return True

    def remove(self, names: list[str]) -> list[str]:
        """Delete objects (DeleteObjects, 1,000 at a time); the names that were there."""
        from . import publication_order

        objects = self.objects
        # What links comes down before what it links to, as far as one request can say.
        removed = sorted((n for n in names if n in objects), key=publication_order, reverse=True)
        for start in range(0, len(removed), DELETE_BATCH):
            chunk = removed[start : start + DELETE_BATCH]
            self.requests += 1
            try:
                answer = self.client().delete_objects(
                    Bucket=self.bucket.name,
                    Delete={
                        "Objects": [{"Key": self.bucket.key(n)} for n in chunk],
                        "Quiet": True,
                    },
                )
            except Exception as exc:
                if _code(exc) not in _NO_BULK_DELETE:
                    raise self._error("delete", chunk[0], exc) from exc
                self._delete_each(chunk, objects)  # GCS's XML API has no DeleteObjects
                continue
            errors = answer.get("Errors") or []
            failed = {e.get("Key", "")[len(self.bucket.prefix) :] for e in errors}
            for name in chunk:
                if name not in failed:
                    del objects[name]
                    self._changed = True
            if errors:
                first = errors[0]
                raise PublishError(
                    f"{self.where(next(iter(failed)))}: cannot delete ({first.get('Code')}: "
                    f"{first.get('Message')}); the credentials need s3:DeleteObject on "
                    f"{self.bucket.url}; the next build tries again"
                )
        return removed

    def _delete_each(self, names: list[str], objects: dict[str, Entry]) -> None:
        for name in names:
            self.requests += 1
            try:
                self.client().delete_object(Bucket=self.bucket.name, Key=self.bucket.key(name))
            except Exception as exc:
                raise self._error("delete", name, exc) from exc
            del objects[name]
            self._changed = True

    def read(self, name: str) -> bytes | None:
        try:
            self.requests += 1
            answer = self.client().get_object(Bucket=self.bucket.name, Key=self.bucket.key(name))
            return bytes(answer["Body"].read())
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise self._error("read", name, exc) from exc

    def _error(self, doing: str, name: str, exc: BaseException) -> PublishError:
        """One line: what failed, why, and what to do about it."""
        code = _code(exc)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = _HINTS.get(code or type(exc).__name__, "")
        if not hint and type(exc).__name__ in _CONNECTION_ERRORS:
            hint = "check the network and endpoint_url"
        where = self.where(name)
        after = (
            "what was already there stays served; the next build finishes the rest"
            if doing in ("upload", "delete")
            else "nothing was uploaded"
        )
        hint = f"; {hint}" if hint else ""
        return PublishError(f"{where}: cannot {doing} ({reason}){hint}; {after}")


_HINTS = {
    "NoCredentialsError": "give credentials as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE or ~/.aws/credentials",
    "PartialCredentialsError": "both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are needed",
    "NoSuchBucket": "create the bucket, or correct out",
    "AccessDenied": "the credentials need s3:ListBucket, s3:GetObject, s3:PutObject and "
    "s3:DeleteObject on the bucket",
    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID (or the profile) for this service",
    "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY (or the profile) for this service",
    "NoRegionError": "set AWS_DEFAULT_REGION, region in ~/.aws/config, or ?region= in the URL",
}
_NO_BULK_DELETE = ("NotImplemented", "MethodNotAllowed", "501", "405")
_CONNECTION_ERRORS = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "SSLError",
)


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


def _make_client(bucket: Bucket, concurrency: int) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise FeedsError(f"publishing to {bucket.url} needs boto3: pip install boto3") from exc
    retries: dict[str, Any] = {"mode": os.environ.get("AWS_RETRY_MODE") or "standard"}
    if not os.environ.get("AWS_MAX_ATTEMPTS"):
        retries["max_attempts"] = MAX_ATTEMPTS
    config = Config(
        retries=retries,
        max_pool_connections=concurrency,
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="feeds",
        # The MD5 is sent instead (Content-MD5): S3-compatible services that do not
        # know the newer CRC checksum headers refuse or mangle requests carrying them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session()
        return session.client(
            "s3", endpoint_url=bucket.endpoint_url, region_name=bucket.region, config=config
        )
    except Exception as exc:
        hint = _HINTS.get(type(exc).__name__)
        raise PublishError(
            f"{bucket.url}: cannot set up the S3 client ({exc}){'; ' + hint if hint else ''}; "
            "nothing was uploaded"
        ) from exc
