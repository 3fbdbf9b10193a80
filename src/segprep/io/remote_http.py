"""Byte ranges over HTTP with ``requests``: public servers, and the Cityscapes server with a logged-in
cookie session renewed once when it expires. Part of ``segprep.io.remote`` (see there)."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable

from segprep.io.remote import (TAIL, LoginRequired, RangeReader, RangesNotSupported,
                               RemoteError, _Retry, connections)


class HttpRanges(RangeReader):
    """A file on a web server, read by ``Range`` requests through a ``requests.Session``.

    ``login`` (a logged-in session's maker) marks a server behind a login: redirects are then
    not followed (an expired session is redirected to the sign-in page) and one new login is
    tried when the server stops accepting the session.
    """

    def __init__(self, url: str, *, session=None, login: Callable[[], object] | None = None, name: str = "",
                 timeout: float = 60.0, what_to_do: str = "") -> None:
        super().__init__()
        import requests
        from requests.adapters import HTTPAdapter

        self.url = url
        self.name = name or url
        self.timeout = timeout
        self._login = login
        self._login_lock = threading.Lock()
        self._generation = 0
        self._what_to_do = what_to_do
        if session is None:
            session = login() if login is not None else requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, connections() + 2), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.session = session
        self._probe()

    def _probe(self) -> None:
        """One request for the last TAIL bytes: gives the size, the date, and proves ranges work. A server that
        ignores the suffix form (``bytes=-N``) is asked for its first byte (``bytes=0-0``), then for the tail by
        explicit offsets; one that ignores that too is refused (RangesNotSupported)."""
        try:
            self._probe_with(f"bytes=-{TAIL}")
        except RangesNotSupported:
            self._probe_with("bytes=0-0")
            self._tail, self._tail_start = b"", self.size
            self.load_tail()

    def _probe_with(self, range_header: str) -> None:
        buf = bytearray()
        attempt = 0
        while True:
            try:
                response = self._get(range_header, None)
                with response:
                    total = _content_range_total(response.headers.get("Content-Range", ""))
                    if total is None:
                        raise RemoteError(f"{self.url}: the server sent no file size (Content-Range) with the range")
                    self.size = total
                    self.mtime_ns = _http_date_ns(response.headers.get("Last-Modified"))
                    for chunk in response.iter_content(1 << 16):
                        buf += chunk
                        self.stats.add(len(chunk))
                break
            except _Retry as exc:
                attempt += 1
                if attempt > self.retries:
                    raise RemoteError(f"{self.url}: cannot reach the file ({exc}); rerun later") from None
                buf.clear()
                self.stats.add(retries=1)
                time.sleep(self.backoff * 2 ** (attempt - 1))
        self._tail_start = self.size - len(buf)
        self._tail = bytes(buf)

    def _fetch(self, start: int, end: int, buf: bytearray) -> None:
        import requests

        response = self._get(f"bytes={start}-{end - 1}", start)
        with response:
            want = end - start
            got = 0
            try:
                for chunk in response.iter_content(1 << 16):
                    chunk = chunk[: want - got]
                    buf += chunk
                    got += len(chunk)
                    self.stats.add(len(chunk))
                    if got >= want:
                        break
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    OSError) as exc:
                raise _Retry(f"connection lost after {got:,} bytes: {type(exc).__name__}") from None

    def _get(self, range_header: str, start: int | None):
        """A checked range response (streamed); raises _Retry for what a retry may fix."""
        import requests

        relogged = False
        while True:
            generation = self._generation
            self.stats.add(requests=1)
            try:
                response = self.session.get(self.url, headers={"Range": range_header}, stream=True,
                                            timeout=self.timeout, allow_redirects=self._login is None)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(f"{type(exc).__name__}") from None
            status = response.status_code
            if status == 206:
                content_type = response.headers.get("Content-Type", "")
                if "text/html" in content_type and not self.url.lower().endswith((".html", ".htm")):
                    response.close()
                    raise LoginRequired(self._login_message("a web page instead of the file"))
                got_start = _content_range_start(response.headers.get("Content-Range", ""))
                if start is not None and got_start != start:
                    response.close()
                    raise RemoteError(f"{self.url}: asked for byte {start:,}, the server sent byte {got_start}")
                total = _content_range_total(response.headers.get("Content-Range", ""))
                if start is not None and total is not None and total != self.size:
                    response.close()
                    raise RemoteError(f"{self.url}: the file changed on the server while it was read (its size was "
                                      f"{self.size:,}, now {total:,}); rerun the same command")
                return response
            response.close()
            if status == 200:
                length = response.headers.get("Content-Length")
                whole = f" ({int(length):,} bytes)" if length and length.isdigit() else ""
                raise RangesNotSupported(
                    f"{self.url}: the server ignores byte ranges (it answered a range request with the whole "
                    f"file{whole}), so the members cannot be read in place: reading would mean downloading the whole "
                    "archive. Download it first (`segprep download`, csDownload or a browser) and put it in --raw."
                )
            if status in (301, 302, 303, 307, 308, 401, 403):
                where = response.headers.get("Location", "")
                if self._login is not None and not relogged:
                    self._relogin(generation)
                    relogged = True
                    continue
                what = f"HTTP {status}" + (f" (a redirect to {where})" if where else "")
                raise LoginRequired(self._login_message(what, after_relogin=relogged))
            if status in (429,) or status >= 500:
                raise _Retry(f"HTTP {status}")
            if status == 404:
                raise RemoteError(f"{self.url}: not found (HTTP 404). {self._what_to_do or 'Check the URL.'}")
            if status == 416:
                raise RemoteError(f"{self.url}: the server refused the range {range_header} (HTTP 416): the file on "
                                  "the server is not the one listed; rerun the same command")
            raise RemoteError(f"{self.url}: the server answered HTTP {status} to a range request")

    def _relogin(self, generation: int) -> None:
        """A new login, unless another thread already renewed the session this request was sent with."""
        with self._login_lock:
            if self._generation != generation:
                return
            fresh = self._login()
            self.session.cookies.update(fresh.cookies)
            self.stats.relogins += 1
            self._generation += 1

    def _login_message(self, what: str, after_relogin: bool = False) -> str:
        if self._login is not None:
            again = " even after a new login" if after_relogin else ""
            return (f"{self.url} ({self.name}): the server answered {what}{again}: the session has expired or your "
                    "account may not download this package. Check that you can download it in a browser while "
                    f"logged in, then rerun the same command (what is done is kept). {self._what_to_do}").strip()
        return (f"{self.url}: the server answered {what} instead of the file: it needs a login or a licence "
                f"click-through. {self._what_to_do or 'Download it in a browser and put it in --raw.'}").strip()


def _content_range_start(value: str) -> int | None:
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _content_range_total(value: str) -> int | None:
    tail = value.rsplit("/", 1)[-1] if "/" in value else ""
    return int(tail) if tail.isdigit() else None


def _http_date_ns(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp()) * 1_000_000_000
    except (TypeError, ValueError):
        return 0


