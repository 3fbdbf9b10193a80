"""A web server on 127.0.0.1 for remote-reading tests and the benchmark: byte ranges, a cookie login like
the Cityscapes server's, byte counting and faults on demand. Started and stopped by its user."""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 16
LAST_MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT"


@dataclass
class Faults:
    ranges: bool = True  # False: answer every request with the whole file (200), as a server without ranges
    suffix_ranges: bool = True  # False: answer "bytes=-N" with the whole file, as some servers do
    drop_after: list[int] = field(default_factory=list)  # drop the next responses after this many body bytes
    errors_5xx: int = 0  # answer this many file requests with 503 first
    expire_sessions_after: int | None = None  # file requests after which every session cookie is forgotten
    refuse_after_login: bool = False  # answer 401 to file requests even with a valid session


class RangeServer:
    """Serves ``files`` (URL path -> bytes, or -> a local file path) with HTTP byte ranges.

    ``packages`` (name -> (package id, URL path)) adds a Cityscapes-like site: ``/login`` (form post, 302 and a
    session cookie on success), ``/downloads/?list`` and ``/file-handling/?packageID=N``, all behind the cookie.
    """

    def __init__(self, files: dict[str, bytes | str], *, packages: dict[str, tuple[int, str]] | None = None,
                 users: dict[str, str] | None = None) -> None:
        self.files = dict(files)
        self.packages = dict(packages or {})
        self.users = dict(users or {})
        self.faults = Faults()
        self.rate: float | None = None  # bytes per second over all connections (a stand-in for a network link)
        self._next_send = 0.0
        self.sessions: set[str] = set()
        self.bytes_served = 0
        self.served: Counter[str] = Counter()  # body bytes sent per file (URL path of the file)
        self.requests = 0
        self.file_requests = 0
        self.logins = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server._get(self)

            def do_HEAD(self) -> None:
                server._get(self, head=True)

            def do_POST(self) -> None:
                server._post(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "RangeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def reset_counts(self) -> None:
        with self.lock:
            self.bytes_served = self.requests = self.file_requests = 0
            self.served.clear()

    # ------------------------------------------------------------------ handlers

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests += 1
        length = int(h.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(h.rfile.read(length).decode())
        if urllib.parse.urlparse(h.path).path.rstrip("/") != "/login":
            return self._small(h, 404, b"not found")
        user, password = form.get("username", [""])[0], form.get("password", [""])[0]
        if self.users.get(user) == password and user:
            token = secrets.token_hex(8)
            with self.lock:
                self.sessions.add(token)
                self.logins += 1
            return self._small(h, 302, b"", {"Location": "/", "Set-Cookie": f"session={token}; Path=/"})
        return self._small(h, 200, b"<html><body>login failed</body></html>", {"Content-Type": "text/html"})

    def _logged_in(self, h: BaseHTTPRequestHandler) -> bool:
        cookie = h.headers.get("Cookie", "")
        tokens = {part.strip()[len("session="):] for part in cookie.split(";") if part.strip().startswith("session=")}
        with self.lock:
            return bool(tokens & self.sessions)

    def _get(self, h: BaseHTTPRequestHandler, head: bool = False) -> None:
        with self.lock:
            self.requests += 1
        parsed = urllib.parse.urlparse(h.path)
        query = urllib.parse.parse_qs(parsed.query)
        path = parsed.path
        if path.rstrip("/") == "/login":
            return self._small(h, 200, b"<html><form method=post></form></html>", {"Content-Type": "text/html"})
        if self.packages and path.rstrip("/") == "/downloads":
            if not self._logged_in(h):
                return self._small(h, 302, b"", {"Location": "/login"})
            listing = [{"name": name, "packageID": str(pid), "size": "1 GB", "thirdparty": "0"}
                       for name, (pid, _) in sorted(self.packages.items())]
            return self._small(h, 200, json.dumps(listing).encode(), {"Content-Type": "application/json"})
        if self.packages and path.rstrip("/") == "/file-handling":
            wanted = query.get("packageID", [""])[0]
            target = next((p for pid, p in self.packages.values() if str(pid) == wanted), None)
            if target is None:
                return self._small(h, 404, b"no such package")
            if not self._logged_in(h):
                return self._small(h, 302, b"", {"Location": "/login"})
            with self.lock:
                self.file_requests += 1
                expire = self.faults.expire_sessions_after
                if expire is not None and self.file_requests > expire:
                    self.sessions.clear()
                    self.faults.expire_sessions_after = None
                    expired = True
                else:
                    expired = False
            if expired:
                return self._small(h, 302, b"", {"Location": "/login"})
            if self.faults.refuse_after_login:
                return self._small(h, 401, b"unauthorized")
            return self._serve(h, target, head)
        if path in self.files:
            with self.lock:
                self.file_requests += 1
            return self._serve(h, path, head)
        return self._small(h, 404, b"not found")

    def _small(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _throttle(self, n: int) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        with self.lock:
            at = max(now, self._next_send)
            self._next_send = at + n / self.rate
        if at > now:
            time.sleep(at - now)

    def _serve(self, h: BaseHTTPRequestHandler, path: str, head: bool) -> None:
        with self.lock:
            fail = self.faults.errors_5xx > 0
            if fail:
                self.faults.errors_5xx -= 1
        if fail:
            return self._small(h, 503, b"busy")
        content = self.files[path]
        size = len(content) if isinstance(content, bytes) else os.path.getsize(content)
        start, end = 0, size  # [start, end)
        status = 200
        wanted = h.headers.get("Range")
        suffix_ignored = not self.faults.suffix_ranges and (wanted or "").startswith("bytes=-")
        if wanted and self.faults.ranges and wanted.startswith("bytes=") and not suffix_ignored:
            first, _, last = wanted[len("bytes="):].partition("-")
            if first == "":
                start = max(0, size - int(last))
            else:
                start = int(first)
                end = min(size, int(last) + 1) if last else size
            if start >= size:
                return self._small(h, 416, b"", {"Content-Range": f"bytes */{size}"})
            status = 206
        h.send_response(status)
        h.send_header("Content-Type", "application/zip")
        h.send_header("Content-Length", str(end - start))
        h.send_header("Last-Modified", LAST_MODIFIED)
        h.send_header("Accept-Ranges", "bytes" if self.faults.ranges else "none")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        h.end_headers()
        if head:
            return
        with self.lock:
            drop = self.faults.drop_after.pop(0) if self.faults.drop_after and end - start > 0 else None
        sent = 0
        f = open(content, "rb") if isinstance(content, str) else None
        try:
            if f is not None:
                f.seek(start)
            pos = start
            while pos < end:
                n = min(CHUNK, end - pos)
                if drop is not None:
                    if sent >= drop:
                        h.close_connection = True
                        h.connection.shutdown(socket.SHUT_RDWR)
                        return
                    n = min(n, max(1, drop - sent))
                block = f.read(n) if f is not None else content[pos:pos + n]
                self._throttle(n)
                h.wfile.write(block)
                pos += n
                sent += n
                with self.lock:
                    self.bytes_served += n
                    self.served[path] += n
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        finally:
            if f is not None:
                f.close()
