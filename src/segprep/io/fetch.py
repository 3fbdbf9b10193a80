"""Resumable, verified HTTP downloads of single files (standard library only).

A file is fetched into ``NAME.part`` beside its target; an interrupted transfer continues
from the end of the part with an HTTP ``Range`` request (a server that ignores Range gets a
fresh start, said so). Only a complete file whose size and known checksums match is renamed
to its final name; a mismatch moves it to ``NAME.corrupt``. A web page where an archive was
expected (a login wall, a redirect to a sign-in form) is recognised and explained.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segprep.errors import BadInput, SegprepError

CHUNK = 1 << 20
USER_AGENT = "segprep (https://github.com/segprep; dataset preparation)"


class LoginRequired(SegprepError):
    """The server answered with a web page (sign-in, cookie wall) instead of the file."""


@dataclass
class FetchResult:
    path: Path
    bytes: int
    sha256: str
    md5: str
    resumed_from: int = 0  # bytes already on disk when this call started
    restarts: int = 0  # times the transfer had to start again (server ignored Range)
    skipped: bool = False  # the file was already complete


def fetch(
    url: str,
    target: Path,
    *,
    expected_bytes: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    page: str = "",
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> FetchResult:
    """Downloads ``url`` to ``target``; ``progress(done, total)`` is called as bytes arrive."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and (expected_bytes is None or target.stat().st_size == expected_bytes):
        digests = _digests(target)
        _check_digests(target, digests, md5, sha256, page, quarantine=False)
        return FetchResult(target, target.stat().st_size, digests["sha256"], digests["md5"], skipped=True)
    part = target.with_name(target.name + ".part")
    resumed_from = part.stat().st_size if part.exists() else 0
    restarts = 0
    attempt = 0
    total = expected_bytes
    while True:
        have = part.stat().st_size if part.exists() else 0
        try:
            total, restarted = _transfer(url, part, have, total, timeout, page, progress)
            restarts += restarted
            break
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError, urllib.error.URLError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                raise
            attempt += 1
            if attempt > retries:
                raise SegprepError(
                    f"{url}: the transfer keeps failing ({type(exc).__name__}: {exc}); {part.stat().st_size if part.exists() else 0:,} "
                    f"bytes are kept in {part}. Run the same command again later to continue where it stopped."
                ) from None
            time.sleep(backoff * 2 ** (attempt - 1))
    size = part.stat().st_size
    if total is not None and size != total:
        raise SegprepError(f"{url}: received {size:,} bytes, expected {total:,}; run the same command again to continue")
    digests = _digests(part)
    _check_digests(part, digests, md5, sha256, page, quarantine=True, final=target)
    os.replace(part, target)
    return FetchResult(target, size, digests["sha256"], digests["md5"], resumed_from, restarts)


def _transfer(url, part: Path, have: int, total: int | None, timeout: float, page: str, progress) -> tuple[int | None, int]:
    """One request: appends to ``part`` from byte ``have``; returns (total size, 1 if it had to restart)."""
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have and total is not None and have == total:
            return total, 0  # the part is already complete
        if exc.code in (401, 403):
            raise LoginRequired(_login_message(url, url, page, f"HTTP {exc.code}")) from None
        if exc.code == 404:
            raise SegprepError(f"{url}: not found (HTTP 404). The file has moved: see {page or 'the dataset page'}") from None
        raise SegprepError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    with response:
        content_type = response.headers.get("Content-Type", "")
        first = response.read(min(CHUNK, 4096))
        if "text/html" in content_type or first.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
            raise LoginRequired(_login_message(url, response.geturl(), page, "a web page"))
        restarted = 0
        if response.status == 206:
            start = int(response.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
            if start != have:
                raise SegprepError(f"{url}: the server resumed at byte {start:,} instead of {have:,}")
            total = _total_from_range(response.headers.get("Content-Range")) or total
            mode = "ab"
        else:  # 200: the whole file from byte 0, whether we asked for a range or not
            restarted = int(have > 0)
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else total
            have = 0
            mode = "wb"
        with open(part, mode) as f:
            f.write(first)
            done = have + len(first)
            if progress:
                progress(done, total)
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)
    return total, restarted


def _total_from_range(content_range: str | None) -> int | None:
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        return int(tail) if tail.isdigit() else None
    return None


def _login_message(url: str, final_url: str, page: str, what: str) -> str:
    redirected = f" (redirected to {final_url})" if final_url != url else ""
    return (
        f"{url}: the server answered with {what}{redirected} instead of the file: this download needs a "
        f"login or a click-through licence. Download it in a browser from {page or url} and put it in the "
        "--raw folder under its official name."
    )


def _digests(path: Path) -> dict[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _check_digests(path: Path, digests: dict[str, str], md5: str | None, sha256: str | None, page: str,
                   quarantine: bool, final: Path | None = None) -> None:
    for name, expected in (("md5", md5), ("sha256", sha256)):
        if expected and digests[name] != expected.lower():
            where = path
            if quarantine:
                where = (final or path).with_name((final or path).name + ".corrupt")
                os.replace(path, where)
            raise BadInput(
                f"{(final or path).name}: {name} is {digests[name]}, the published one is {expected}. The file is "
                f"damaged or not the official one; it was kept as {where}. Delete it and download again"
                + (f" (from {page})" if page else "") + "."
            )
