"""What is in a raw folder: for each dataset, which downloads are found, missing, or present but wrong.

A download is looked for in ``RAW`` and in ``RAW/<dataset name>`` (so one folder can hold
everything, or one subfolder per dataset), as its archive (whole or split in parts) or as one of
the extracted folders its recipe names. An archive is probed cheaply: a zip's central
directory, a tar's headers, and for compressed tars up to ``FULL_CHECK_BYTES`` a full pass (a
truncated download is caught); larger ones are compared with the published size when known.
Recipes may add their own findings with ``Recipe.inspect_raw`` (e.g. "this is YouTube-VOS").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segprep.datasets.base import Download, Recipe
from segprep.errors import BadInput
from segprep.io.archives import Archive, archive_kind, find_archive, list_members

FULL_CHECK_BYTES = 2 << 30


@dataclass
class Found:
    download: Download
    status: str  # "found", "missing", "wrong"
    detail: str = ""


def raw_folders(raw: Path, recipe: type[Recipe] | Recipe) -> list[Path]:
    """Where a dataset's downloads may be: RAW/<name> first when it exists, then RAW."""
    own = raw / recipe.NAME
    return [own, raw] if own.is_dir() else [raw]


def dataset_raw(raw: Path, recipe: type[Recipe] | Recipe) -> Path:
    """The folder to prepare a dataset from: RAW/<name> when it exists, else RAW."""
    return raw_folders(raw, recipe)[0]


def inspect(recipe: Recipe, raw: Path) -> list[Found]:
    """One row per download, one verdict each: a recipe's own finding about a file that was found
    (a YouTube-VOS ``train.zip`` given to YouTube-VIS) turns that row to "wrong" instead of adding a
    second, contradicting row."""
    out = [_inspect_one(download, raw_folders(raw, recipe)) for download in recipe.DOWNLOADS]
    for name, problem in recipe.inspect_raw(dataset_raw(raw, recipe)):
        row = next((f for f in out if f.status != "missing" and _names(f, name)), None)
        if row is None:
            out.append(Found(Download(name, "", "", ""), "wrong", problem))
        else:
            row.status, row.detail = "wrong", f"{name}: {problem}"
    return out


def _names(row: Found, path: str) -> bool:
    """Whether the row found the file or folder ``path`` (or one inside it)."""
    found_at = row.detail.split(",")[0].removeprefix("extracted: ")
    return bool(found_at) and (path == found_at or path.startswith(found_at.rstrip("/") + "/")
                               or found_at.startswith(path.rstrip("/") + "/"))


def complete(found: list[Found]) -> bool:
    return all(f.status == "found" or (f.status == "missing" and f.download.optional) for f in found)


def _inspect_one(download: Download, folders: list[Path]) -> Found:
    if archive_kind(download.filename) is None:  # a plain file (an annotation json), not an archive
        for folder in folders:
            for rel in (download.filename, *download.extracted):
                if (folder / rel).is_file():
                    size = (folder / rel).stat().st_size
                    if download.bytes and size != download.bytes:
                        return Found(download, "wrong", f"{folder / rel}: the official file has {download.bytes:,} "
                                                        f"bytes, this one {size:,} (incomplete or damaged download)")
                    return Found(download, "found", f"{folder / rel}, {size / 1e6:.1f} MB")
        where = " or ".join(str(f) for f in folders)
        return Found(download, "missing", f"not in {where}; {download.describe()}")
    for folder in folders:
        try:
            archive = find_archive(folder, download.filename)
        except BadInput as exc:  # a split archive with a missing part
            return Found(download, "wrong", str(exc))
        if archive is not None:
            return _probe(download, archive)
    for folder in folders:
        for rel in download.extracted:
            if (folder / rel).exists():
                return Found(download, "found", f"extracted: {folder / rel}")
    where = " or ".join(str(f) for f in folders)
    return Found(download, "missing", f"not in {where}; {download.describe()}")


def _probe(download: Download, archive: Archive) -> Found:
    size = archive.size()
    label = f"{archive.display}, {size / 1e9:.2f} GB"
    if download.bytes and size != download.bytes:
        return Found(download, "wrong", f"{label}: the official file has {download.bytes:,} bytes, this one {size:,} "
                                        "(incomplete or damaged download)")
    if archive.sequential and size > FULL_CHECK_BYTES:
        return Found(download, "found", f"{label} (not read through here: prepare checks it as it reads)")
    try:
        members = list_members(archive)
    except BadInput as exc:
        return Found(download, "wrong", str(exc))
    return Found(download, "found", f"{label}, {len(members):,} files")
