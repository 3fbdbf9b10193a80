"""Reading downloads where they are: byte ranges of a file on a web server or in an object store.

A remote download is represented locally by a *placeholder*: a sparse file of the remote size,
with the remote modification time, in an index folder under ``data/.segprep/remote/`` (see
``segprep.io.homes``). Recipes find, list and fingerprint it like any download; only its bytes
come from elsewhere. This module keeps, per process, the map placeholder -> remote object and
reads the bytes:

* ``HttpRanges`` -- ``requests`` with ``Range: bytes=a-b`` (public servers, and the Cityscapes
  server with a logged-in cookie session that is renewed once when it expires). A dropped
  connection, a timeout or a 5xx/429 is retried with exponential backoff, resuming at the first
  byte not yet received. A server that answers a range request with the whole file is refused:
  reading in place would mean downloading everything.
* ``FsspecRanges`` -- any fsspec filesystem (``s3://`` with s3fs, ``gs://`` with gcsfs,
  ``memory://``...) through ``cat_file(path, start, end)``, with the same retries.
* ``RangedFile`` -- a seekable read-only file over either, so ``zipfile`` and ``tarfile`` list
  an archive unchanged: the last 64 KiB are fetched first (the zip end record and usually the
  whole central directory), then reads go by blocks.
* ``fetch`` -- the bytes of many archive members (and remote files) at once: each zip member's
  extent (local header + data, up to the next member) is known from the central directory;
  neighbouring extents are merged into requests of at most ``MAX_REQUEST`` bytes, fetched by
  ``connections()`` threads, decompressed and CRC-checked (a member that fails is fetched again
  once, then reported by name; the others are unaffected).

All remote reads happen in the main process (the engine prefetches bounded batches and hands
the bytes to the workers, see ``engine.runner``): one login, one connection pool, requests
merged across tasks, and one place that counts the bytes fetched.
"""

from __future__ import annotations

import email.utils
import io
import os
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from segprep.errors import BadInput, SegprepError

TAIL = 64 << 10  # first read of an archive: its end, where a zip keeps its directory
READAHEAD = 1 << 20  # block size of RangedFile reads (tar headers, a deflated inner zip)
MAX_REQUEST = 8 << 20  # merged member ranges per request
CONNECTIONS_ENV = "SEGPREP_REMOTE_CONNECTIONS"
RETRIES = 6
BACKOFF = 0.25  # seconds, doubled at every retry of the same range


def connections() -> int:
    return max(1, int(os.environ.get(CONNECTIONS_ENV, "8")))


class RemoteError(SegprepError):
    """A remote read failed after its retries (the message names the URL and what to do)."""


class RangesNotSupported(RemoteError):
    """The server ignores byte ranges: reading members in place is impossible."""


class LoginRequired(RemoteError):
    """The server wants a (new) login, or refused the one we have."""


@dataclass
class Stats:
    bytes: int = 0
    requests: int = 0
    retries: int = 0
    relogins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int = 0, requests: int = 0, retries: int = 0) -> None:
        with self.lock:
            self.bytes += nbytes
            self.requests += requests
            self.retries += retries


class RangeReader:
    """Bytes [start, end) of one remote object; ``size`` and ``mtime_ns`` are known after construction."""

    url: str
    size: int
    mtime_ns: int = 0
    retries: int = RETRIES
    backoff: float = BACKOFF

    def __init__(self) -> None:
        self.stats = Stats()
        self._tail_start = 0
        self._tail = b""

    def read(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if end <= start:
            return b""
        if self._tail and end > self._tail_start:  # served (partly) from the end already fetched
            if start >= self._tail_start:
                return self._tail[start - self._tail_start:end - self._tail_start]
            return self._fetch_retrying(start, self._tail_start) + self._tail[:end - self._tail_start]
        return self._fetch_retrying(start, end)

    def load_tail(self) -> None:
        if not self._tail and self.size:
            self._tail_start = max(0, self.size - TAIL)
            self._tail = self._fetch_retrying(self._tail_start, self.size)

    def _fetch_retrying(self, start: int, end: int) -> bytes:
        buf = bytearray()
        attempt = 0
        while len(buf) < end - start:
            try:
                self._fetch(start + len(buf), end, buf)
                if len(buf) < end - start:
                    raise _Retry(f"the response ended after {len(buf):,} of {end - start:,} bytes")
            except _Retry as exc:
                attempt += 1
                if attempt > self.retries:
                    raise RemoteError(
                        f"{self.url}: bytes {start:,}-{end - 1:,} could not be read after {self.retries} retries "
                        f"({exc}). The server or the network is failing: rerun the same command later; what is "
                        "done is kept and not fetched again."
                    ) from None
                self.stats.add(retries=1)
                time.sleep(self.backoff * 2 ** (attempt - 1))
        return bytes(buf)

    def _fetch(self, start: int, end: int, buf: bytearray) -> None:
        """Appends bytes from ``start`` (up to ``end``) to ``buf`` as they arrive; raises _Retry on a transient
        failure (what arrived stays in ``buf``, so the retry resumes after it)."""
        raise NotImplementedError


class _Retry(Exception):
    """A transient failure: retry the rest of the range after a backoff."""


# --------------------------------------------------------------------------- HTTP (requests)


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


# --------------------------------------------------------------------------- fsspec (object stores)


class FsspecRanges(RangeReader):
    """An object of an fsspec filesystem (s3://, gs://, memory://...), read with ``cat_file`` ranges."""

    def __init__(self, url: str, *, fs=None, path: str | None = None, info: dict | None = None) -> None:
        super().__init__()
        if fs is None:
            fs, path = url_to_fs(url)
        self.url, self.fs, self.path = url, fs, path
        info = info if info is not None else fs.info(path)
        self.size = int(info.get("size") or 0)
        self.mtime_ns = info_mtime_ns(info)

    def _fetch(self, start: int, end: int, buf: bytearray) -> None:
        self.stats.add(requests=1)
        try:
            data = self.fs.cat_file(self.path, start=start, end=end)
        except (FileNotFoundError, PermissionError) as exc:
            raise RemoteError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        except (OSError, TimeoutError, ConnectionError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        buf += data
        self.stats.add(len(data))


def url_to_fs(url: str):
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        scheme = url.split("://", 1)[0]
        extra = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}.get(scheme)
        hint = f" Install it: pip install 'segprep[{scheme}]' (adds {extra})." if extra else ""
        raise SegprepError(f"{url}: cannot open this kind of URL ({exc}).{hint}") from None


def info_mtime_ns(info: dict) -> int:
    for key in ("LastModified", "mtime", "updated", "created", "last_modified"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return int(value.timestamp()) * 1_000_000_000
        if isinstance(value, (int, float)):
            return int(value) * 1_000_000_000
        try:
            import datetime

            return int(datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()) * 1_000_000_000
        except ValueError:
            continue
    return 0


# --------------------------------------------------------------------------- concatenated parts


class PartsRanges(RangeReader):
    """The parts of a split archive as one range reader."""

    def __init__(self, readers: list[RangeReader]) -> None:
        super().__init__()
        self.parts = readers
        self.url = readers[0].url + (f" (+{len(readers) - 1} parts)" if len(readers) > 1 else "")
        self.starts = []
        total = 0
        for r in readers:
            self.starts.append(total)
            total += r.size
        self.size = total
        self.mtime_ns = max(r.mtime_ns for r in readers)
        self.stats = readers[0].stats if len(readers) == 1 else Stats()

    def read(self, start: int, end: int) -> bytes:
        out = []
        for part_start, reader in zip(self.starts, self.parts):
            lo, hi = max(start, part_start), min(end, part_start + reader.size)
            if lo < hi:
                out.append(reader.read(lo - part_start, hi - part_start))
        return b"".join(out)


# --------------------------------------------------------------------------- a seekable file


class RangedFile(io.RawIOBase):
    """A read-only seekable file over a RangeReader, reading by blocks of ``readahead`` bytes."""

    def __init__(self, reader: RangeReader, readahead: int = READAHEAD) -> None:
        self._r = reader
        self._pos = 0
        self._buf = b""
        self._buf_start = 0
        self._readahead = readahead

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._r.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self._r.size - self._pos))
        if n == 0:
            return 0
        inside = self._buf_start <= self._pos and self._pos + n <= self._buf_start + len(self._buf)
        if not inside:
            tail_start = self._r._tail_start if self._r._tail else self._r.size
            end = min(self._r.size, self._pos + max(n, self._readahead))
            if self._pos < tail_start < end:
                end = max(self._pos + n, tail_start)  # no need to fetch what the tail already holds
            self._buf, self._buf_start = self._r.read(self._pos, end), self._pos
        offset = self._pos - self._buf_start
        chunk = self._buf[offset:offset + n]
        memoryview(buffer)[:len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


# --------------------------------------------------------------------------- the registry (per process)


@dataclass
class Remote:
    url: str
    make: Callable[[], RangeReader]  # opens the reader (probing the object) when first needed
    size: int
    mtime_ns: int
    label: str = ""  # e.g. "Cityscapes server (logged in)"


_registry: dict[str, Remote] = {}
_readers: dict[str, RangeReader] = {}
_lock = threading.Lock()


def register(placeholder: str | os.PathLike, remote: Remote, reader: RangeReader | None = None) -> None:
    key = os.path.abspath(placeholder)
    with _lock:
        _registry[key] = remote
        if reader is not None:
            _readers[key] = reader


def forget_all() -> None:
    with _lock:
        _registry.clear()
        _readers.clear()


def lookup(path: str | os.PathLike) -> Remote | None:
    if not _registry:
        return None
    return _registry.get(os.path.abspath(path))


def is_remote(parts: Iterable[str]) -> bool:
    return bool(_registry) and any(lookup(p) is not None for p in parts)


def reader(path: str | os.PathLike) -> RangeReader:
    key = os.path.abspath(path)
    with _lock:
        existing = _readers.get(key)
        remote = _registry.get(key)
    if existing is not None:
        return existing
    if remote is None:
        raise KeyError(path)
    made = remote.make()
    with _lock:
        return _readers.setdefault(key, made)


def parts_reader(parts: tuple[str, ...]) -> RangeReader:
    if len(parts) == 1:
        return reader(parts[0])
    return PartsRanges([reader(p) for p in parts])


def open_file(parts: tuple[str, ...]) -> RangedFile:
    r = parts_reader(parts)
    r.load_tail()
    return RangedFile(r)


def active() -> bool:
    """True when some remote object is registered in this process (a remote --raw or home)."""
    return bool(_registry)


def fetched_bytes() -> int:
    with _lock:
        readers = list(_readers.values())
    return sum(r.stats.bytes for r in readers)


def totals() -> list[tuple[str, int, Stats, str]]:
    """(url, size, stats, label) of every remote object read in this process, sorted by URL."""
    with _lock:
        items = [(key, r) for key, r in _readers.items()]
    out = []
    for key, r in items:
        remote = _registry.get(key)
        out.append((r.url, r.size, r.stats, remote.label if remote else ""))
    return sorted(out, key=lambda item: item[0])


# --------------------------------------------------------------------------- zip layouts


@dataclass(frozen=True)
class Extent:
    """Where a member's bytes are in the archive file: [start, end) holds its local header and data."""

    start: int
    end: int
    compress_type: int
    compress_size: int
    file_size: int
    crc: int
    flag_bits: int


_layouts: dict[tuple, dict[str, Extent]] = {}


def remember_layout(key: tuple, zf: zipfile.ZipFile, base: int, limit: int) -> None:
    """Records every member's extent from an open zip's central directory (``base``: where the zip starts in
    the file, non-zero for a zip stored inside a zip; ``limit``: where its members end)."""
    infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
    cd_start = getattr(zf, "start_dir", None)
    stop = base + (cd_start if cd_start is not None else limit)
    layout = {}
    for index, info in enumerate(infos):
        end = base + infos[index + 1].header_offset if index + 1 < len(infos) else stop
        layout[info.filename] = Extent(base + info.header_offset, end, info.compress_type, info.compress_size,
                                       info.file_size, info.CRC, info.flag_bits)
    with _lock:
        _layouts[key] = layout


def layout(key: tuple) -> dict[str, Extent] | None:
    return _layouts.get(key)


# --------------------------------------------------------------------------- fetching many members


@dataclass(frozen=True)
class Want:
    """One thing to fetch: a zip member (extent known), a raw byte range (tar member), or a whole object."""

    key: str  # what the bytes are handed over as (a source's describe())
    parts: tuple[str, ...]  # placeholders of the archive (or of the file)
    start: int
    end: int
    extent: Extent | None = None  # a zip member: decompress and check its CRC
    name: str = ""  # member name, for messages


def fetch(wants: list[Want], max_request: int = MAX_REQUEST) -> dict[str, bytes | SegprepError]:
    """The bytes of every want (or the error that names it), fetched in parallel by merged ranges.

    Login and "no ranges" failures concern every want and are raised; other failures are returned per want.
    """
    requests: list[tuple[tuple[str, ...], int, int, list[Want]]] = []
    by_object: dict[tuple[str, ...], list[Want]] = {}
    for want in wants:
        by_object.setdefault(want.parts, []).append(want)
    for parts, items in by_object.items():
        items.sort(key=lambda w: (w.start, w.end))
        current: list[Want] = []
        lo = hi = 0
        for want in items:
            if current and want.start <= hi and max(hi, want.end) - lo <= max_request:
                current.append(want)
                hi = max(hi, want.end)
                continue
            if current:
                requests.append((parts, lo, hi, current))
            current, lo, hi = [want], want.start, want.end
        if current:
            requests.append((parts, lo, hi, current))
    results: dict[str, bytes | SegprepError] = {}
    if not requests:
        return results
    with ThreadPoolExecutor(min(connections(), len(requests)), thread_name_prefix="segprep-fetch") as pool:
        futures = [pool.submit(_fetch_request, *request) for request in requests]
        fatal = None
        for future in futures:
            try:
                results.update(future.result())
            except (LoginRequired, RangesNotSupported) as exc:
                fatal = fatal or exc
        if fatal is not None:
            raise fatal
    return results


def _fetch_request(parts, lo: int, hi: int, items: list[Want]) -> dict[str, bytes | SegprepError]:
    r = parts_reader(parts)
    out: dict[str, bytes | SegprepError] = {}
    try:
        blob = r.read(lo, hi)
    except (LoginRequired, RangesNotSupported):
        raise
    except SegprepError as exc:
        return {w.key: exc for w in items}
    for want in items:
        data = blob[want.start - lo:want.end - lo]
        if want.extent is None:
            out[want.key] = data if len(data) == want.end - want.start else RemoteError(
                f"{r.url}: {want.name or want.key}: short read ({len(data):,} of {want.end - want.start:,} bytes)")
            continue
        try:
            out[want.key] = decode_member(data, want.extent, want.name, r.url)
        except BadInput:
            try:  # once more: a transfer error is fixed by a second read, a damaged archive is not
                out[want.key] = decode_member(r.read(want.start, want.end), want.extent, want.name, r.url)
            except SegprepError as exc:
                out[want.key] = exc
    return out


def decode_member(blob: bytes, extent: Extent, name: str, where: str) -> bytes:
    """A zip member's content from its local header + data bytes; checks size and CRC-32."""
    label = f"{os.path.basename(where.split('?')[0]) or where}:{name}"
    if len(blob) < 30 or blob[:4] != b"PK\x03\x04":
        raise BadInput(f"{label}: no local header where the directory puts it (the remote archive is damaged)")
    if extent.flag_bits & 0x1:
        raise BadInput(f"{label}: the member is encrypted; segprep cannot read it")
    name_len, extra_len = struct.unpack("<HH", blob[26:30])
    start = 30 + name_len + extra_len
    data = blob[start:start + extent.compress_size]
    if len(data) != extent.compress_size:
        raise BadInput(f"{label}: the member's data is cut short (the remote archive is damaged)")
    try:
        if extent.compress_type == zipfile.ZIP_STORED:
            content = data
        elif extent.compress_type == zipfile.ZIP_DEFLATED:
            content = zlib.decompress(data, -15)
        elif extent.compress_type == zipfile.ZIP_BZIP2:
            import bz2

            content = bz2.decompress(data)
        else:
            raise BadInput(f"{label}: compression method {extent.compress_type} is not supported")
    except (zlib.error, OSError, ValueError) as exc:
        raise BadInput(f"{label}: the compressed data is damaged ({exc}); this member is skipped, the others go "
                       "on. If it fails again, the archive on the server is damaged: report it to its host.") from None
    if len(content) != extent.file_size or zlib.crc32(content) != extent.crc:
        raise BadInput(f"{label}: CRC-32 check failed (expected {extent.crc:08x}, got {zlib.crc32(content):08x}, "
                       f"{len(content):,} of {extent.file_size:,} bytes); this member is skipped, the others go on. "
                       "If it fails again, the archive on the server is damaged: report it to its host.")
    return content


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
