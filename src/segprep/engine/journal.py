"""The resume journal: one JSON line per finished task, appended as results arrive.

A line holds the task key, the fingerprint of its inputs and options, its outputs (size, hash,
mtime, inode) and the value its action returned. A rerun skips a task whose fingerprint is the
same and whose outputs are still intact; everything else is redone. A line torn by a kill is
ignored (its task is simply redone). At the end of a run the journal is rewritten, sorted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segprep.engine import atomic
from segprep.engine.atomic import OutputRecord


FINALIZE_KEY = "(finalize)"  # the entry of the aggregates finalize wrote: never a task, read by verify


@dataclass
class JournalEntry:
    key: str
    fingerprint: str
    outputs: list[OutputRecord]
    extra: Any
    shape: str | None = None  # the output-shaping options it was written with (see ``shape_id``)

    def to_json(self) -> dict:
        row = {"key": self.key, "fp": self.fingerprint, "out": [o.to_json() for o in self.outputs], "extra": self.extra}
        return row if self.shape is None else row | {"shape": self.shape}

    @classmethod
    def from_json(cls, row: dict) -> "JournalEntry":
        return cls(row["key"], row["fp"], [OutputRecord.from_json(o) for o in row["out"]], row.get("extra"),
                   row.get("shape"))


def shape_id(salt: str) -> str:
    """Short id of a plan's salt (recipe, version, output-shaping options)."""
    return hashlib.sha256(salt.encode()).hexdigest()[:16]


class Journal:
    """The journal of one dataset. Entries are held as their JSON lines (a fraction of the memory of
    the parsed objects: a 250k-task run keeps 250k of them) and parsed when asked for."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, str] = {}  # key -> its line, without the newline
        self._file = None
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        entry = JournalEntry.from_json(json.loads(line))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a kill
                    self.entries[entry.key] = line.rstrip("\n")

    def get(self, key: str) -> JournalEntry | None:
        line = self.entries.get(key)
        return None if line is None else JournalEntry.from_json(json.loads(line))

    def record(self, entry: JournalEntry) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        line = json.dumps(entry.to_json(), sort_keys=True)
        self._file.write(line + "\n")
        self._file.flush()
        self.entries[entry.key] = line

    def drop(self, key: str) -> None:
        """Forgets a task (compaction removes its line)."""
        self.entries.pop(key, None)

    def compact(self) -> None:
        """Rewrite the journal with one line per task, sorted by key."""
        self.close()
        lines = "".join(self.entries[k] + "\n" for k in sorted(self.entries))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(self.path, lines.encode("utf-8"))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def outputs_intact(entry: JournalEntry, out_root: Path) -> bool:
    """True when every output still is what the task wrote.

    Same size, mtime and inode: trusted without reading. Otherwise (the tree was copied or
    touched) a recorded hash is recomputed; a hard link has none and is simply redone.
    """
    return all(_changed(record, out_root / record.path, copied_link=UNKNOWN) is None for record in entry.outputs)


def changed_outputs(journal_path: Path, out_root: Path) -> list[tuple[str, str]]:
    """(file, what is wrong) for every output the journal records that is no longer what prepare left
    (gone, another size, other bytes; files unchanged since prepare are trusted without reading), and
    for every file under ``out_root`` that no prepare wrote (a stray file). Nothing without a journal."""
    if not journal_path.is_file():
        return []
    found = []
    recorded = set()
    journal = Journal(journal_path)
    for key in sorted(journal.entries):
        for record in journal.get(key).outputs:
            recorded.add(record.path)
            why = _changed(record, out_root / record.path)
            if why:
                found.append((record.path, why))
    for directory, folders, names in os.walk(out_root):
        folders.sort()
        for name in sorted(names):
            rel = (Path(directory) / name).relative_to(out_root).as_posix()
            if rel not in recorded:
                found.append((rel, "stray file: no prepare wrote it (remove it, or prepare again if it is an output)"))
    return found


UNKNOWN = "a copy of a hard link to the download: no hash was taken to compare its bytes with"


def _changed(record: OutputRecord, path: Path, copied_link: str | None = None) -> str | None:
    """What is wrong with an output against its record, or None. ``copied_link`` is the answer for a
    copy of a hard-linked output (another inode, nothing recorded to compare): verify trusts it (None),
    a resume redoes it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing: prepare wrote it and it has been removed since"
    if st.st_size != record.size:
        return f"{st.st_size:,} bytes where prepare wrote {record.size:,}: changed or truncated since"
    if st.st_mtime_ns == record.mtime_ns and st.st_ino == record.inode:
        return None
    if record.digest is None:  # a hard link to the download: no hash was taken
        if st.st_ino == record.inode:
            return "edited in place since prepare linked it (and so was the download file it links to)"
        return copied_link
    if atomic.file_digest(path) != record.digest:
        return "its bytes differ from what prepare wrote (edited since)"
    return None
