"""Cityscapes: segprep's whole preparation against cityscapesScripts' three tools, same sample, same machine.

The reference is what the instructions amount to for the derived files: createTrainIdLabelImgs,
createTrainIdInstanceImgs (both over every split, in place) and createPanopticImgs for train and
val, run one after the other (they are serial) on the extracted download. segprep does all of
that plus placing the raw files, license.txt and the mmdetection instance jsons, on every core,
from the extracted download (hard links) and from the zips. Prints wall time, frames/s and the CPU
time of each (the process and all it started), which a loaded machine distorts less than wall time.

    python benchmarks/bench_cityscapes.py [--frames 50] [--jobs N] [--work bench-work/cityscapes]
"""

from __future__ import annotations

import argparse
import resource
import os
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]
import cityscapes_oracle  # noqa: E402
from common import load_average, print_table, segprep, timed  # noqa: E402

from segprep.engine.executors import default_jobs  # noqa: E402
from segprep.datasets.cityscapes.sample import frame_stems  # noqa: E402


def run(command: list[str], **kw) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and every process it started and waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(command, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50, help="frames per sample city (4 cities: 2 train, 1 val, 1 test)")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--work", type=Path, default=Path("bench-work/cityscapes"))
    args = parser.parse_args()
    work = args.work.absolute()
    raw = work / f"raw-{args.frames}"
    stems = frame_stems(args.frames)
    n = len(stems)
    labelled = sum(1 for split, _, _ in stems if split != "test")
    if not (raw / "gtFine_trainvaltest.zip").exists():
        seconds = timed(segprep("sample", "cityscapes", "--out", str(raw), "--frames", str(args.frames)))
        print(f"generated the sample in {seconds:.0f} s")
    extracted = work / f"extracted-{args.frames}"
    if not extracted.exists():
        for name in ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip"):
            with zipfile.ZipFile(raw / name) as zf:
                zf.extractall(extracted)
    cityscapes_oracle.old_pillow()  # installed before timing
    print(f"sample: {n} frames 2048x1024 ({labelled} train+val, {n - labelled} test); {os.cpu_count()} cores, "
          f"--jobs {args.jobs}; load average before: {load_average()}")

    rows = []
    scratch = work / "reference"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(extracted / "gtFine", scratch / "gtFine")
    env = dict(os.environ, CITYSCAPES_DATASET=str(scratch), PYTHONPATH=str(cityscapes_oracle.old_pillow()))
    total = cpu_total = 0.0
    for command in cityscapes_oracle.official_commands(scratch, scratch / "out"):
        (scratch / "out").mkdir(exist_ok=True)
        seconds, cpu = run(command, env=env)
        total, cpu_total = total + seconds, cpu_total + cpu
        rows.append((f"  {command[2].rsplit('.', 1)[1]}", seconds, cpu, None))
    rows.insert(0, ("cityscapesScripts, 3 tools in sequence (1 core)", total, cpu_total, None))

    data = work / "data"
    for label, source, jobs in (("segprep prepare, extracted (hard links)", extracted, args.jobs),
                                ("segprep prepare, from the zips", raw, args.jobs),
                                ("segprep prepare, extracted", extracted, 1)):
        shutil.rmtree(data, ignore_errors=True)
        seconds, cpu = run(segprep("prepare", "cityscapes", "--raw", str(source), "--data", str(data), "--jobs",
                                   str(jobs), "--quiet"))
        rows.append((f"{label}, --jobs {jobs}", seconds, cpu, total / seconds))
    seconds, cpu = run(segprep("verify", "cityscapes", "--data", str(data), "--jobs", str(args.jobs), "--quiet"))
    rows.append((f"segprep verify, --jobs {args.jobs}", seconds, cpu, None))

    print()
    print_table(["what", "wall s", "frames/s", "speed-up (wall)", "CPU s", "CPU ms/frame", "speed-up (CPU)"],
                [[label, f"{seconds:.1f}", f"{n / seconds:.1f}", "" if speedup is None else f"{speedup:.1f}x",
                  f"{cpu:.1f}", f"{1000 * cpu / n:.0f}", "" if speedup is None else f"{cpu_total / cpu:.1f}x"]
                 for label, seconds, cpu, speedup in rows])
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
