"""What a dataset recipe declares, in the spirit of a tensorflow-datasets builder.

A recipe is data (name, folder, downloads, published counts, options) plus three functions:
``plan`` (inputs -> tasks, writing nothing), ``verify`` (checks of a prepared folder) and
``sample`` (a miniature raw download in the official formats). The engine does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from segprep.checks.findings import Report
from segprep.engine.progress import Progress
from segprep.engine.runner import Plan

if TYPE_CHECKING:
    from segprep.report.model import ReportSection


@dataclass(frozen=True)
class Download:
    """One official download: what ``segprep list`` prints and every "missing input" error repeats."""

    filename: str
    size: str  # as published, e.g. "15 GB"; "" when unknown
    page: str  # where it comes from
    holds: str  # what is inside, and the extracted folders accepted instead of the archive
    login: bool = False  # behind a registration form
    url: str = ""  # direct link when the file is public: `segprep download` fetches it
    md5: str = ""  # published checksums, when they are established
    sha256: str = ""
    bytes: int = 0  # exact size when established
    tool: tuple[str, ...] = ()  # an official downloader for login-only files, "{raw}" and "{filename}" filled in
    extracted: tuple[str, ...] = ()  # relative paths whose presence means the archive was extracted instead
    optional: bool = False  # the dataset can be prepared without it (e.g. an unlabelled test split)
    home: str = ""  # where `prepare --remote HOME` reads it in place when it is not in --raw (io/homes.py)

    def describe(self) -> str:
        size = f", {self.size}" if self.size else ""
        login = " (registration required)" if self.login else ""
        remote = f" Or read it in place: --remote {self.home}." if self.home else ""
        return f"{self.filename}{size}: {self.holds}. From {self.page}{login}{remote}"


@dataclass(frozen=True)
class Option:
    """A recipe-specific command-line option (``--name``); ``dest`` is the key in ``options``."""

    name: str
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = str
    flag: bool = False  # a switch without a value
    shapes_output: bool = True  # False for options that only select work (e.g. which splits)
    example: Any = None  # another valid value of an output-shaping option (the contract tests change it and back)

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


def parse_splits(text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The ``--splits`` option ("train,val") as a tuple; an unknown or empty list is refused."""
    splits = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = set(splits) - set(allowed)
    if unknown or not splits:
        from segprep.errors import SegprepError

        raise SegprepError(f"--splits: unknown split(s) {sorted(unknown)}; choose from {', '.join(allowed)}")
    return splits


class Recipe:
    NAME: ClassVar[str]  # command-line name, e.g. "kitti-step"
    FOLDER: ClassVar[str]  # folder under --data, as the training code expects it
    TITLE: ClassVar[str]
    VERSION: ClassVar[str]  # bump when the outputs change: every fingerprint changes with it
    DOWNLOADS: ClassVar[tuple[Download, ...]]
    OPTIONS: ClassVar[tuple[Option, ...]] = ()
    SAMPLE_OPTIONS: ClassVar[tuple[Option, ...]] = ()
    # The label maps it writes, as patterns relative to its folder (fnmatch): verify must catch one
    # wrong pixel in any of them (the contract tests plant one in each kind).
    LABEL_OUTPUTS: ClassVar[tuple[str, ...]] = ()
    # Its workers decode or encode frames and label maps with the compiled codecs (io/kernels.py): the
    # worker server warms numba up once (~0.45 s) before forking them (engine/workerserver.py).
    COMPILED_CODECS: ClassVar[bool] = False

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        raise NotImplementedError

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        raise NotImplementedError

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        raise NotImplementedError

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        """(file or folder, problem) for downloads that are present but wrong, beyond missing/damaged archives."""
        return []

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> "ReportSection":
        """Counts, class statistics and labelled frames of a prepared folder, for ``segprep report``."""
        from segprep.report.model import ReportSection

        return ReportSection(self.NAME, self.FOLDER, self.TITLE, [], notes=["(no report view for this dataset yet)"])

    @classmethod
    def download_help(cls) -> str:
        return "\n".join(f"  - {d.describe()}" for d in cls.DOWNLOADS)

    @classmethod
    def salt(cls, options: dict[str, Any]) -> str:
        """Identifies the code version and options that shape outputs (part of every fingerprint)."""
        shaping = {o.dest: options.get(o.dest, o.default) for o in cls.OPTIONS if o.shapes_output}
        return f"{cls.NAME}/{cls.VERSION}/{sorted(shaping.items())}"
