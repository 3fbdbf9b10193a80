"""`segprep download`: fetch a dataset's public archives, or say exactly how to get the others.

Public files (a ``url`` in the recipe's ``DOWNLOADS``) are fetched in parallel, resumably,
checked against their published size and checksums; a file without a published checksum gets
its sha256 printed so the user can compare. Files behind a login are described (page, name,
size, where to put them); where an official downloader exists (``tool``, e.g. cityscapesScripts'
``csDownload``) it is run on request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from segprep.datasets.base import Download, Recipe
from segprep.errors import SegprepError
from segprep.io.fetch import fetch


MIRROR_ENV = "SEGPREP_MIRROR"


def mirrored(url: str, mirror: str | None) -> str:
    """The address of ``url`` on a mirror or cache. ``mirror`` is a base URL under which the files lie
    as ``wget --mirror`` lays them out (``MIRROR/<host>/<path>``), or a template with ``{host}``,
    ``{path}`` (no leading slash) and ``{filename}``, e.g. ``https://mirror.lab/datasets/{filename}``.
    The published sizes and checksums still apply: a mirror cannot hand over other bytes unnoticed."""
    if not mirror:
        return url
    parts = urlsplit(url)
    fields = {"host": parts.netloc, "path": parts.path.lstrip("/"), "filename": parts.path.rsplit("/", 1)[-1]}
    if "{" in mirror:
        return mirror.format(**fields)
    return f"{mirror.rstrip('/')}/{fields['host']}/{fields['path']}"


@dataclass
class Outcome:
    filename: str
    status: str  # "downloaded", "already there", "manual", "failed", "tool"
    detail: str = ""


def download(recipe: Recipe, raw: Path, *, parallel: int = 4, use_tool: bool = False, quiet: bool = False,
             retries: int = 5, backoff: float = 2.0, mirror: str | None = None) -> list[Outcome]:
    """``mirror`` (default: $SEGPREP_MIRROR) replaces the public servers, see ``mirrored``."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    raw.mkdir(parents=True, exist_ok=True)
    public = [d for d in recipe.DOWNLOADS if d.url]
    outcomes: dict[str, Outcome] = {}
    for d in recipe.DOWNLOADS:
        if d.url:
            continue
        if (raw / d.filename).exists():
            outcomes[d.filename] = Outcome(d.filename, "already there", "present in --raw (not checked: no public copy)")
        elif d.tool and use_tool:
            outcomes[d.filename] = _run_tool(d, raw)
        else:
            how = f" (or rerun with --use-tool to let `{d.tool[0]}` fetch it with your account)" if d.tool else ""
            outcomes[d.filename] = Outcome(d.filename, "manual", f"download {d.filename}{' (' + d.size + ')' if d.size else ''} "
                                           f"from {d.page} and put it in {raw}{how}")
    with ThreadPoolExecutor(max(1, min(parallel, len(public) or 1))) as pool:
        futures = {d.filename: pool.submit(_fetch_one, d, mirrored(d.url, mirror), raw, position, quiet, retries,
                                           backoff) for position, d in enumerate(public)}
        for name, future in futures.items():
            try:
                outcomes[name] = future.result()
            except SegprepError as exc:
                outcomes[name] = Outcome(name, "failed", str(exc))
    return [outcomes[d.filename] for d in recipe.DOWNLOADS]


def _fetch_one(d: Download, url: str, raw: Path, position: int, quiet: bool, retries: int, backoff: float) -> Outcome:
    bar = None if quiet else tqdm(total=d.bytes or None, desc=d.filename, unit="B", unit_scale=True,
                                  unit_divisor=1024, position=position, leave=True, file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        if bar is not None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

    try:
        result = fetch(url, raw / d.filename, expected_bytes=d.bytes or None, md5=d.md5 or None,
                       sha256=d.sha256 or None, page=d.page, retries=retries, backoff=backoff, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    checked = [name for name, value in (("size", d.bytes), ("md5", d.md5), ("sha256", d.sha256)) if value]
    detail = f"{result.bytes:,} bytes, sha256 {result.sha256}" + (f", from {url}" if url != d.url else "")
    detail += f"; checked {', '.join(checked)} against the published values" if checked else \
        "; no published checksum: compare this sha256 with a trusted copy"
    if result.resumed_from:
        detail += f"; resumed at byte {result.resumed_from:,}"
    if result.restarts:
        detail += "; the server ignored the resume request, so the transfer started again"
    return Outcome(d.filename, "already there" if result.skipped else "downloaded", detail)


def _run_tool(d: Download, raw: Path) -> Outcome:
    command = [part.format(raw=raw, filename=d.filename) for part in d.tool]
    if shutil.which(command[0]) is None:
        return Outcome(d.filename, "failed", f"`{command[0]}` is not installed (pip install cityscapesscripts)")
    completed = subprocess.run(command)
    if completed.returncode != 0 or not (raw / d.filename).exists():
        return Outcome(d.filename, "failed", f"`{' '.join(command)}` ended with code {completed.returncode}")
    return Outcome(d.filename, "tool", f"fetched by `{' '.join(command)}`")
