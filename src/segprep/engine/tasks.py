"""Tasks: the independent units of work a recipe plans, and what running one produces.

A task names its inputs (sources), its outputs (paths relative to the dataset folder) and a
module-level ``action(ctx, task)`` that writes exactly those outputs through ``TaskContext``.
Planning builds tasks without touching the output tree, so a plan can be printed (``--dry-run``),
fingerprinted for the journal, and shipped to worker processes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from segprep.engine import atomic
from segprep.engine.atomic import OutputRecord
from segprep.errors import MissingInput
from segprep.io.sources import FileSource, Source, SourceReader

Placement = str  # "link" (hard link, copy across filesystems), "copy", "move" (link, then consume the source)
PLACEMENTS = ("link", "copy", "move")


@dataclass(frozen=True)
class Task:
    key: str  # unique and stable: the journal's key and the sort order
    action: Callable[["TaskContext", "Task"], Any]
    inputs: tuple[Source, ...] = ()
    outputs: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)  # json-able options that change the output
    group: str = ""  # a label for counts in plans and summaries, e.g. "train images"
    size_hint: int | None = None  # bytes it writes; None = the size of its inputs
    # How the action treats bad input (e.g. {"skip_damaged": True}: leave a damaged frame out instead of
    # failing). Not part of the fingerprint: it never changes what a task that writes its outputs writes,
    # so switching it redoes only the tasks that failed, not every task.
    policy: dict = field(default_factory=dict)

    def fingerprint(self, salt: str) -> str:
        """Changes whenever an input, an option or the code version that shapes the output changes."""
        action = f"{self.action.__module__}.{self.action.__qualname__}"
        payload = [salt, action, self.params, [s.fingerprint() for s in self.inputs], list(self.outputs)]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def describe_inputs(self) -> str:
        return ", ".join(s.describe() for s in self.inputs) or self.key


@dataclass
class TaskResult:
    key: str
    ok: bool
    outputs: list[OutputRecord] = field(default_factory=list)
    extra: Any = None  # json-able value the action returned, kept for finalize (and in the journal)
    error: str = ""
    detail: str = ""  # traceback of an unexpected error, for the failure log


class TaskContext:
    """What an action may do: read its inputs and write its outputs, atomically and recorded."""

    def __init__(self, out_root: Path, placement: Placement, reader: SourceReader, preloaded: dict[str, bytes] | None):
        self.out_root = out_root
        self.placement = placement
        self._reader = reader
        self._preloaded = preloaded
        self.outputs: list[OutputRecord] = []
        self.omitted: set[str] = set()

    def read(self, source: Source) -> bytes:
        return self._reader.read(source, self._preloaded)

    def open(self, source: Source) -> BinaryIO:
        """A seekable binary file of an input too large to read whole (a file is opened, not read)."""
        if isinstance(source, FileSource):
            try:
                return open(source.path, "rb")
            except FileNotFoundError:
                raise MissingInput(f"{source.path}: file disappeared since the plan was made; rerun prepare") from None
        return io.BytesIO(self.read(source))

    def write_bytes(self, rel: str, data: bytes) -> None:
        mtime_ns, inode = atomic.write_bytes(self.out_root / rel, data)
        self.outputs.append(OutputRecord(rel, len(data), atomic.digest(data), mtime_ns, inode))

    def write_chunks(self, rel: str, chunks: Iterable[bytes]) -> None:
        """Like ``write_bytes`` for an output streamed in pieces, never held whole in memory."""
        size, digest, mtime_ns, inode = atomic.write_chunks(self.out_root / rel, chunks)
        self.outputs.append(OutputRecord(rel, size, digest, mtime_ns, inode))

    def omit(self, rel: str) -> None:
        """Leaves the declared output ``rel`` out on purpose (its input is damaged and the task's policy
        says to skip it): the task still succeeds; a file an earlier run left at ``rel`` is removed."""
        (self.out_root / rel).unlink(missing_ok=True)
        self.omitted.add(rel)

    def place(self, source: Source, rel: str, check: Callable[[bytes, str], Any] | None = None) -> Any:
        """Put the unchanged bytes of ``source`` at ``rel``: hard link when allowed, else a copy.

        ``check(data, name)`` validates the bytes first (and may return facts for the caller);
        a source that fails its check is never placed.
        """
        data = None
        result = None
        if check is not None or not self._linkable(source):
            data = self.read(source)
            if check is not None:
                result = check(data, source.describe())
        if self._linkable(source):
            linked = atomic.link(source.path, self.out_root / rel)
            if linked is not None:
                self.outputs.append(OutputRecord(rel, source.size, None, *linked))
                return result
            if data is None:
                data = self.read(source)
        self.write_bytes(rel, data)
        return result

    def _linkable(self, source: Source) -> bool:
        return isinstance(source, FileSource) and self.placement in ("link", "move")
