"""A real S3 HTTP endpoint on 127.0.0.1 for the tests: moto's standalone server.

The server runs in a process of its own (``moto_server``), with moto's request
recorder on: every request it receives is appended to a log file, in the
order received, with its method, URL and body. The tests talk to the server
only through feeds' own client (the build) and plain HTTP (the readers), and
count and order requests through that log.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "feeds-test",
    "AWS_SECRET_ACCESS_KEY": "feeds-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def moto_command() -> list[str] | None:
    exe = Path(sys.executable).with_name("moto_server")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("moto_server")
    return [found] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_ACCESS = re.compile(r'\] "([A-Z]+) (\S+) HTTP/[\d.]+" \d{3}')


@dataclass
class Request:
    method: str
    bucket: str
    key: str  # "" for a request on the bucket itself
    query: str
    body: bytes


class MotoServer:
    """``moto_server`` on 127.0.0.1, recording every request it receives."""

    def __init__(self, folder: Path, record: bool = True) -> None:
        """``record``: keep every request with its body (requests()); without it, only
        the access log (access_log()), for runs too big to keep every body."""
        self.folder = folder
        self.log = folder / "requests.jsonl"
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MOTO_RECORDER_FILEPATH=str(self.log))
        if record:
            env["MOTO_ENABLE_RECORDING"] = "True"
        command = moto_command()
        assert command is not None, "moto_server is not installed: pip install 'moto[server]'"
        self.process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "moto.log", "wb"),  # noqa: SIM115 - the server's
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                break
            except (urllib.error.URLError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "moto_server did not start: " + (folder / "moto.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def access_log(self) -> list[tuple[str, str]]:
        """(method, path) of every request answered so far, from the server's access log."""
        text = (self.folder / "moto.log").read_text(errors="replace")
        return [(m[1], m[2]) for m in _ACCESS.finditer(text)]

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def requests(self) -> list[Request]:
        """Every request received so far, in order."""
        found = []
        if not self.log.exists():
            return found
        for entry in _entries(self.log.read_text()):
            url = urlsplit(entry["url"])
            bucket, _, key = url.path.lstrip("/").partition("/")
            body = entry.get("body") or ""
            raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
            found.append(Request(entry["method"], unquote(bucket), unquote(key), url.query, raw))
        return found


def _entries(text: str) -> Iterator[dict[str, Any]]:
    """The log's JSON objects. moto's recorder writes each object, then its newline, in
    two writes, so requests handled at once can leave two objects on one line."""
    decoder = json.JSONDecoder()
    at, end = 0, len(text)
    while True:
        while at < end and text[at].isspace():
            at += 1
        if at >= end:
            return
        entry, at = decoder.raw_decode(text, at)
        yield entry


class Bucket:
    """One test's bucket: publicly readable, as a bucket behind a CDN or website is."""

    def __init__(self, server: MotoServer, name: str, prefix: str = "live/") -> None:
        self.server = server
        self.name = name
        self.prefix = prefix
        self.client = server.client()
        self.client.create_bucket(Bucket=name)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{name}/*",
                }
            ],
        }
        self.client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        self.mark = len(server.requests())

    @property
    def url(self) -> str:
        """The output as feeds takes it."""
        return f"s3://{self.name}/{self.prefix}?endpoint_url={self.server.endpoint}"

    @property
    def http(self) -> str:
        """Where readers fetch the objects: base_url of the site."""
        return f"{self.server.endpoint}/{self.name}/{self.prefix}"

    def requests(self, since: int | None = None) -> list[Request]:
        """This bucket's requests, since the last call of ``since_now`` by default."""
        start = self.mark if since is None else since
        return [r for r in self.server.requests()[start:] if r.bucket == self.name]

    def since_now(self) -> None:
        self.mark = len(self.server.requests())

    def objects(self) -> dict[str, bytes]:
        """Every object under the prefix (names relative to it), with its bytes."""
        found = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=self.prefix):
            for item in page.get("Contents", ()):
                body = self.client.get_object(Bucket=self.name, Key=item["Key"])["Body"].read()
                found[item["Key"][len(self.prefix) :]] = body
        return found

    def head(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.head_object(Bucket=self.name, Key=self.prefix + name)
        return answer


def writes(requests: list[Request], prefix: str) -> list[tuple[str, str, bytes]]:
    """("PUT", name, body) and ("DELETE", name, b"") in order, for keys under ``prefix``."""
    events = []
    for r in requests:
        if r.method == "PUT" and r.key.startswith(prefix):
            events.append(("PUT", r.key[len(prefix) :], r.body))
        elif r.method == "DELETE" and r.key.startswith(prefix):
            events.append(("DELETE", r.key[len(prefix) :], b""))
        elif r.method == "POST" and r.query.startswith("delete") and not r.key:
            for key in etree.fromstring(r.body).iter("{*}Key"):
                if key.text and key.text.startswith(prefix):
                    events.append(("DELETE", key.text[len(prefix) :], b""))
    return events


class FaultyProxy:
    """An HTTP proxy in front of the S3 server that answers some requests itself:
    ``refuse`` (a regular expression on the path) gets 403 AccessDenied for a PUT;
    the first ``throttle`` PUTs get 503 SlowDown, as S3 does under load; without
    ``bulk_delete``, DeleteObjects gets 501 NotImplemented, as from GCS's XML API."""

    def __init__(
        self, target: str, refuse: str | None = None, throttle: int = 0, bulk_delete: bool = True
    ) -> None:
        import threading
        from http.client import HTTPConnection
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.refuse = re.compile(refuse) if refuse else None
        self.throttle = throttle
        self.bulk_delete = bulk_delete
        self.throttled = 0
        self.refused = 0
        lock = threading.Lock()
        host, port = urlsplit(target).hostname, urlsplit(target).port
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self, status: int, code: str) -> None:
                body = f"<Error><Code>{code}</Code><Message>{code} (test)</Message></Error>"
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and "?delete" in self.path and not proxy.bulk_delete:
                    return self._answer(501, "NotImplemented")
                if self.command == "PUT":
                    with lock:
                        throttle = proxy.throttled < proxy.throttle
                        proxy.throttled += throttle
                        refuse = bool(proxy.refuse and proxy.refuse.search(self.path))
                        proxy.refused += refuse and not throttle
                    if throttle:
                        return self._answer(503, "SlowDown")
                    if refuse:
                        return self._answer(403, "AccessDenied")
                upstream = HTTPConnection(host, port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
