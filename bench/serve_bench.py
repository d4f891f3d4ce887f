"""Requests per second of `feeds serve`, for full responses and for 304s.

    .venv/bin/python bench/serve_bench.py [--duration 5] [--connections 32]

Builds the example store into a temporary folder, serves it with `feeds serve`
(and with nginx, when it is installed, for a yardstick), and drives each server
from a second process: wrk when it is installed, else a Python load generator.
Prints one table. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = "/kazerun/rss.xml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def etag_of(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", TARGET)
    response = conn.getresponse()
    response.read()
    return response.getheader("ETag") or ""


def run_wrk(port: int, headers: dict[str, str], args: argparse.Namespace) -> float:
    cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{TARGET}"], capture_output=True, text=True, check=True
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise SystemExit(f"errors under load:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def run_python(port: int, headers: dict[str, str], args: argparse.Namespace) -> float:
    """A keep-alive load generator in a second process (threads share one GIL)."""
    code = f"""
import http.client, threading, time
count = [0]; stop = time.monotonic() + {args.duration}
def worker():
    conn = http.client.HTTPConnection("127.0.0.1", {port})
    while time.monotonic() < stop:
        conn.request("GET", {TARGET!r}, headers={headers!r})
        r = conn.getresponse(); r.read()
        assert r.status in (200, 304), r.status
        count[0] += 1
threads = [threading.Thread(target=worker) for _ in range({min(args.connections, 16)})]
[t.start() for t in threads]; [t.join() for t in threads]
print(count[0] / {args.duration})
"""
    return float(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )


def nginx_conf(root: Path, out: Path, port: int) -> Path:
    conf = root / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log {root}/nginx-access.log;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {out};
    etag on;
    location ~ /rss\\.xml$ {{ types {{ }} default_type "application/rss+xml; charset=utf-8";
                             add_header Cache-Control "max-age=60"; }}
  }}
}}
""")
    return conf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--load", choices=["wrk", "python"], help="load generator  [default: wrk when installed]"
    )
    args = parser.parse_args()
    tool = args.load or ("wrk" if shutil.which("wrk") else "python")
    load = run_wrk if tool == "wrk" else run_python

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "data", root / "data")
        subprocess.run([sys.executable, "-m", "feeds", "build", "-q"], cwd=root, check=True)
        out = root / "out"
        rows = []

        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feeds",
                "serve",
                "--out",
                str(out),
                "--data",
                str(root / "data"),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(port)
            etag = etag_of(port)
            rows.append(
                (
                    "feeds serve (aiohttp, 1 process)",
                    load(port, {}, args),
                    load(port, {"If-None-Match": etag}, args),
                )
            )
        finally:
            server.terminate()
            server.wait()

        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if nginx:
            (root / "tmp").mkdir()
            port = free_port()
            conf = nginx_conf(root, out, port)
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
            proc = subprocess.Popen(
                [nginx, "-c", str(conf), "-p", str(root)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for(port)
                etag = etag_of(port)
                rows.append(
                    (
                        f"{version.split(': ')[-1]} (1 worker)",
                        load(port, {}, args),
                        load(port, {"If-None-Match": etag}, args),
                    )
                )
            finally:
                proc.terminate()
                proc.wait()

    print(
        f"GET {TARGET} ({(REPO / 'data').name} example), {args.duration} s each, "
        f"{args.connections} connections, load from {tool}, {os.cpu_count()} CPUs"
    )
    print(f"{'server':<36}{'200 req/s':>12}{'304 req/s':>12}")
    for name, full, not_modified in rows:
        print(f"{name:<36}{full:>12,.0f}{not_modified:>12,.0f}")
    if len(rows) == 2:
        print(
            f"{'feeds serve / nginx':<36}{rows[0][1] / rows[1][1]:>12.2f}"
            f"{rows[0][2] / rows[1][2]:>12.2f}"
        )


if __name__ == "__main__":
    main()
