"""Shared helpers for the benchmark scripts: timing a command, sampling disk use, printing a table."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def inodes(root: Path) -> set[tuple[int, int]]:
    out = set()
    for dirpath, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            out.add((st.st_dev, st.st_ino))
    return out


def disk_bytes(root: Path, exclude: set[tuple[int, int]] | None = None) -> int:
    """Bytes allocated on disk by the files under root (hard links counted once, ``exclude`` not at all)."""
    seen, total = set(exclude or ()), 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue  # renamed away while we looked
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


class PeakDisk:
    """Samples the disk use of a folder in a thread; ``peak`` is the largest minus the start."""

    def __init__(self, root: Path, exclude_inodes_of: Path | None = None, interval: float = 0.05):
        self.root, self.interval = root, interval
        self.exclude = inodes(exclude_inodes_of) if exclude_inodes_of else set()  # e.g. hard-linked sources
        self.start = disk_bytes(root, self.exclude) if root.exists() else 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.root.exists():
                self.peak = max(self.peak, disk_bytes(self.root, self.exclude) - self.start)
            time.sleep(self.interval)

    def __enter__(self) -> "PeakDisk":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self.root.exists():
            self.peak = max(self.peak, disk_bytes(self.root, self.exclude) - self.start)


def timed(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def segprep(*args: str) -> list[str]:
    return [sys.executable, "-m", "segprep", *args]


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    line = "| " + " | ".join(f"{h:<{w}}" for h, w in zip(headers, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(f"{str(x):<{w}}" for x, w in zip(row, widths)) + " |")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (a prepare command and its workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_timed(fn, items: list, jobs: int) -> tuple[float, float]:
    """(wall, cpu) seconds of ``fn`` over ``items`` in ``jobs`` processes; ``fn`` returns the CPU seconds it
    spent (pool workers are not reaped before the measurement ends, so their rusage cannot be used)."""
    from segprep.engine.parallel import imap_ordered

    start, cpu = time.perf_counter(), 0.0
    for value in imap_ordered(fn, items, jobs):
        if isinstance(value, Exception):
            raise value
        cpu += value
    return time.perf_counter() - start, cpu


def run_prepare(name: str, raw: Path, data: Path, jobs: int) -> tuple[float, float]:
    """(wall, cpu) seconds of a whole ``segprep prepare NAME`` command into a fresh ``data``."""
    import shutil

    shutil.rmtree(data, ignore_errors=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(segprep("prepare", name, "--raw", str(raw), "--data", str(data), "--jobs", str(jobs), "--quiet"),
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, cpu_seconds() - cpu


def frame_bench_arguments(description: str, work: Path):
    """The options of the video-frame benchmarks (VIPSeg, VSPW): --videos, --frames, --repeats, --work."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--videos", type=int, default=24, help="1080p videos (default 24)")
    parser.add_argument("--frames", type=int, default=9, help="frames per video (default 9: 216 frames)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=work)
    parser.add_argument("--paths-only", action="store_true",
                        help="only the today-vs-new comparison and the step table (skip the codec-ratio rows)")
    path_arguments(parser)
    return parser.parse_args()


CODEC_COLUMNS = ["jobs", "prepare frames/s", "codec frames/s", "wall ratio", "1-frame run s", "ratio without start-up",
                 "prepare CPU ms/frame", "codec CPU ms/frame", "CPU ratio"]


def codec_row(name: str, raw: Path, tiny: Path, work: Path, codec_fn, items: list, jobs: int,
              repeats: int) -> list[str]:
    """One row of ``CODEC_COLUMNS``: ``segprep prepare NAME`` on ``raw`` against ``codec_fn`` (the bare codec
    work, returning its CPU seconds) over ``items`` (one per frame), and the fixed cost of a run on ``tiny``
    (a one-frame download); each the best of ``repeats``, interleaved so all see the same background load."""
    n = len(items)
    whole = codec = fixed = (float("inf"), float("inf"))
    for _ in range(repeats):
        whole = min(whole, run_prepare(name, raw, work / "data", jobs))
        codec = min(codec, run_timed(codec_fn, items, jobs))
        fixed = min(fixed, run_prepare(name, tiny, work / "tiny-data", jobs))
    steady = (whole[0] - fixed[0]) / codec[0]
    return [f"{jobs}", f"{n / whole[0]:.1f}", f"{n / codec[0]:.1f}", f"{whole[0] / codec[0]:.2f}", f"{fixed[0]:.2f}",
            f"{steady:.2f}", f"{1000 * whole[1] / n:.1f}", f"{1000 * codec[1] / n:.1f}", f"{whole[1] / codec[1]:.2f}"]


# ---------------------------------------------------------------------- today's codec path against the new one

def path_arguments(parser) -> None:
    """--rounds and --baseline-src: what the alternating today-vs-new comparison runs."""
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of today's path and the new one")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="'today' = the src/ folder of another checkout (e.g. main before issue 17) instead of "
                             "this checkout with SEGPREP_ACCEL=0 (every accelerator off)")


def _path_env(today: bool, baseline_src: Path | None) -> dict:
    env = dict(os.environ)
    if today:
        if baseline_src is not None:
            env["PYTHONPATH"] = str(Path(baseline_src).absolute())
        else:
            env["SEGPREP_ACCEL"] = "0"
    else:
        env.pop("SEGPREP_ACCEL", None)
    return env


def run_prepare_env(name: str, raw: Path, data: Path, jobs: int, env: dict) -> tuple[float, float]:
    """(wall, cpu) seconds of ``segprep prepare NAME`` into a fresh ``data`` with the environment ``env``."""
    import shutil

    shutil.rmtree(data, ignore_errors=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(segprep("prepare", name, "--raw", str(raw), "--data", str(data), "--jobs", str(jobs), "--quiet"),
                   check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start, cpu_seconds() - cpu


def same_outputs(a: Path, b: Path) -> str:
    """'identical' when both trees hold the same files, every PNG with the same decoded array (mode, shape,
    pixels) and every other file with the same bytes (segprep's own state folder excluded); else what differs."""
    import numpy as np
    from PIL import Image

    def files(root: Path) -> set[str]:
        return {str(Path(d, f).relative_to(root)) for d, dirs, names in os.walk(root)
                for f in names if ".segprep" not in Path(d, f).relative_to(root).parts}

    names_a, names_b = files(a), files(b)
    if names_a != names_b:
        return f"different files: {sorted(names_a ^ names_b)[:3]}"
    pngs = 0
    for name in sorted(names_a):
        x, y = (a / name).read_bytes(), (b / name).read_bytes()
        if x == y:
            continue
        if not name.endswith(".png"):
            return f"{name}: bytes differ"
        with Image.open(a / name) as p, Image.open(b / name) as q:
            if p.mode != q.mode or not np.array_equal(np.asarray(p), np.asarray(q)):
                return f"{name}: pixels differ"
        pngs += 1
    return f"identical ({len(names_a)} files; {pngs} PNGs re-encoded, same pixels)"


PATH_COLUMNS = ["path", "rounds: wall s", "best wall s", "items/s", "1-item run s", "items/s after start-up",
                "CPU ms/item (best)", "ratio today/new (best)", "ratio after start-up", "ratio per round"]


def alternate_paths(name: str, raw: Path, work: Path, jobs: int, rounds: int, items: int,
                    baseline_src: Path | None = None, tiny: Path | None = None) -> tuple[list[list[str]], str, float]:
    """Today's codec path and the new one, prepare after prepare, alternating for ``rounds`` rounds, so both see
    the same background load; ``tiny`` (a one-item download) measures each path's fixed start-up cost in the
    same rounds. Returns the rows of ``PATH_COLUMNS``, the output comparison and the best-wall items/s of the
    new path."""
    runs = {True: [], False: []}
    fixed = {True: [], False: []}
    for _ in range(rounds):
        for today in (True, False):
            env = _path_env(today, baseline_src)
            runs[today].append(run_prepare_env(name, raw, work / ("data-today" if today else "data-new"), jobs, env))
            if tiny is not None:
                fixed[today].append(run_prepare_env(name, tiny, work / "data-tiny", jobs, env)[0])
    best = {k: min(v) for k, v in runs.items()}
    start = {k: min(v) if v else 0.0 for k, v in fixed.items()}
    steady = {k: items / (best[k][0] - start[k]) if best[k][0] > start[k] else float("nan") for k in best}
    per_round = [t[0] / n[0] for t, n in zip(runs[True], runs[False])]
    label = f"today ({'--baseline-src' if baseline_src else 'SEGPREP_ACCEL=0'})"
    rows = []
    for today, text in ((True, label), (False, "new (accelerators on)")):
        wall, cpu = best[today]
        rows.append([text, " / ".join(f"{w:.2f}" for w, _ in runs[today]), f"{wall:.2f}", f"{items / wall:.1f}",
                     f"{start[today]:.2f}" if tiny else "", f"{steady[today]:.1f}" if tiny else "",
                     f"{1000 * cpu / items:.1f}", "" if today else f"{best[True][0] / wall:.2f}x",
                     "" if today or not tiny else f"{steady[False] / steady[True]:.2f}x",
                     "" if today else " / ".join(f"{r:.2f}" for r in per_round)])
    return rows, same_outputs(work / "data-today", work / "data-new"), items / best[False][0]


def step_table(names: list[str], breakdown, items: list, repeats: int) -> list[list[str]]:
    """Rows (step, today's CPU ms, new CPU ms, ratio) of ``breakdown(items, 1)`` (CPU ms per item of each step,
    in this process), run with every accelerator off and on, alternating, best of ``repeats`` each."""
    from segprep.io import accel

    today = new = None
    for _ in range(repeats):
        with accel.disabled():
            t = breakdown(items, 1)
        n = breakdown(items, 1)
        today = t if today is None else [min(a, b) for a, b in zip(today, t)]
        new = n if new is None else [min(a, b) for a, b in zip(new, n)]
    rows = [[name, f"{a:.1f}", f"{b:.1f}", f"{a / b:.2f}x" if b else ""] for name, a, b in zip(names, today, new)]
    return rows + [["sum", f"{sum(today):.1f}", f"{sum(new):.1f}", f"{sum(today) / sum(new):.2f}x"]]


def report_paths(name: str, raw: Path, work: Path, jobs: int, rounds: int, items: int, baseline_src: Path | None,
                 what: str, target: float, unit: str, tiny: Path | None = None, steps: tuple | None = None) -> None:
    """``alternate_paths`` printed: a heading naming ``what`` was prepared, the table, the output comparison
    and whether the new path reaches ``target`` ``unit`` (items per second); then, given ``steps`` (the
    arguments of ``step_table``), the per-step table."""
    print(f"\ntoday's codec path against the new one, {what}, {jobs} jobs, alternating (load average before: "
          f"{load_average()})")
    rows, same, rate = alternate_paths(name, raw, work, jobs, rounds, items, baseline_src, tiny)
    print_table(PATH_COLUMNS, rows)
    print(f"outputs: {same}; target >= {target:g} {unit}: {'met' if rate >= target else 'not met'} "
          f"({rate:.1f} {unit}); load average after: {load_average()}")
    if steps is not None:
        print()
        print_table(["step of one 1080p frame (1 core, CPU ms)", "today", "new", "ratio"], step_table(*steps))

