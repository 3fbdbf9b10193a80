"""Reading downloads where they are: byte ranges of a file on a web server or in an object store.

A remote download is represented locally by a *placeholder*: a sparse file of the remote size,
with the remote modification time, in an index folder under ``data/.segprep/remote/`` (see
``segprep.io.homes``). Recipes find, list and fingerprint it like any download; only its bytes
come from elsewhere. This module keeps, per process, the map placeholder -> remote object and
reads the bytes:

* ``HttpRanges`` (in ``remote_http``) -- ``requests`` with ``Range: bytes=a-b`` (public servers, and the Cityscapes
  server with a logged-in cookie session that is renewed once when it expires). A dropped
  connection, a timeout or a 5xx/429 is retried with exponential backoff, resuming at the first
  byte not yet received. A server that answers a range request with the whole file is refused:
  reading in place would mean downloading everything.
* ``FsspecRanges`` -- any fsspec filesystem (``s3://`` with s3fs, ``gs://`` with gcsfs,
  ``memory://``...) through ``cat_file(path, start, end)``, with the same retries.
* ``RangedFile`` -- a seekable read-only file over either, so ``zipfile`` and ``tarfile`` list
  an archive unchanged: the last 64 KiB are fetched first (the zip end record and usually the
  whole central directory), then reads go by blocks.
* ``fetch`` (in ``remote_fetch``) -- the bytes of many archive members (and remote files) at once: each zip member's
  extent (local header + data, up to the next member) is known from the central directory;
  neighbouring extents are merged into requests of at most ``MAX_REQUEST`` bytes, fetched by
  ``connections()`` threads, decompressed and CRC-checked (a member that fails is fetched again
  once, then reported by name; the others are unaffected).

All remote reads happen in the main process (the engine prefetches bounded batches and hands
the bytes to the workers, see ``engine.runner``): one login, one connection pool, requests
merged across tasks, and one place that counts the bytes fetched.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from segprep.errors import SegprepError
from segprep.io.filewindows import Window

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


class RangedFile(Window):
    """A read-only seekable file over a RangeReader, reading by blocks of ``readahead`` bytes."""

    def __init__(self, reader: RangeReader, readahead: int = READAHEAD) -> None:
        self._r = reader
        self._size, self._pos = reader.size, 0
        self._buf = b""
        self._buf_start = 0
        self._readahead = readahead

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


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)

