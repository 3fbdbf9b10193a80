"""What a recipe's ``finalize`` gets: the values every finished task returned, which tasks failed, and
writes of aggregate files that leave a file already holding the same bytes untouched."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from segprep.engine import atomic
from segprep.engine.atomic import OutputRecord
from segprep.engine.tasks import Task
from segprep.engine.worker import debug_delay


class FinalizeContext:
    """What ``finalize`` gets: every finished task's returned value (new or from the journal), the keys
    of the tasks that failed, and atomic writes that leave an output with the same bytes untouched."""

    def __init__(self, out_root: Path, tasks: list[Task], extras: dict[str, Any],
                 say: Callable[[str], None] | None = None, failed: set[str] | None = None, verbose: bool = False):
        self.out_root = out_root
        self.tasks = tasks
        self.extras = extras
        self.failed = failed or set()  # keys of tasks that failed or never ran: their extras are absent
        self.verbose = verbose  # --verbose: statistics in full
        self.written: list[str] = []
        self.unchanged: list[str] = []  # outputs that already held the bytes finalize made
        self.records: list[OutputRecord] = []  # every aggregate in place, for the journal (and verify)
        self._say = say
        self.notes: list[str] = []  # facts for the summary table (also with --quiet)

    def say(self, message: str) -> None:
        """A message for the user (statistics, notes); silent with --quiet."""
        if self._say is not None:
            self._say(message)

    def note(self, text: str) -> None:
        """A fact that belongs in the run's summary (e.g. how many values were repaired)."""
        self.notes.append(text)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Writes ``rel`` atomically, unless it already holds ``data``: a rerun that changes nothing
        leaves every file as it was (bytes, inode and mtime), so make, rsync or a watching job see
        no change."""
        debug_delay("SEGPREP_FINALIZE_DELAY_MS")  # lets tests kill a run inside finalize
        target = self.out_root / rel
        if atomic.same_bytes(target, data):
            self.unchanged.append(rel)
            st = os.stat(target)
            placed = st.st_mtime_ns, st.st_ino
        else:
            placed = atomic.write_bytes(target, data)
            self.written.append(rel)
        self.records.append(OutputRecord(rel, len(data), atomic.digest(data), *placed))

    def complete(self, rels: Iterable[str], keys: Iterable[str]) -> bool:
        """True when none of the tasks ``keys`` failed, so the aggregates ``rels`` built from them can be
        written. Otherwise they are withheld, not written without the failed items (a json that lists
        every frame of a split must not silently miss some): an older copy from a complete earlier run
        is removed, and the summary says which task they wait for."""
        failed = sorted(k for k in keys if k in self.failed)
        if not failed:
            return True
        for rel in rels:
            (self.out_root / rel).unlink(missing_ok=True)
            self.note(f"{rel} not written: it needs {len(failed):,} failed task(s), e.g. {failed[0]}; "
                      "fix the input and rerun")
        return False
