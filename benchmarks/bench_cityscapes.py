"""Cityscapes: segprep's whole preparation against cityscapesScripts' three tools, same sample, same machine.

The reference is what the instructions amount to for the derived files: createTrainIdLabelImgs,
createTrainIdInstanceImgs (both over every split, in place) and createPanopticImgs for train and
val, run one after the other (they are serial) on the extracted download. segprep does all of
that plus placing the raw files, license.txt and the mmdetection instance jsons, on every core,
from the extracted download (hard links) and from the zips. Prints wall time and frames/s.

    python benchmarks/bench_cityscapes.py [--frames 25] [--jobs N] [--work bench-work/cityscapes]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import cityscapes_oracle  # noqa: E402

from segprep.engine.executors import default_jobs  # noqa: E402
from segprep.samples.cityscapes import frame_stems  # noqa: E402


def timed(command: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def segprep(*args: str) -> list[str]:
    return [sys.executable, "-m", "segprep", *args]


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=25, help="frames per sample city (4 cities: 2 train, 1 val, 1 test)")
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
          f"--jobs {args.jobs}; load average before: {load()}")

    rows = []
    scratch = work / "reference"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(extracted / "gtFine", scratch / "gtFine")
    env = dict(os.environ, CITYSCAPES_DATASET=str(scratch), PYTHONPATH=str(cityscapes_oracle.old_pillow()))
    total = 0.0
    for command in cityscapes_oracle.official_commands(scratch, scratch / "out"):
        (scratch / "out").mkdir(exist_ok=True)
        seconds = timed(command, env=env)
        total += seconds
        rows.append((f"  {command[2].rsplit('.', 1)[1]}", seconds, None))
    rows.insert(0, ("cityscapesScripts, 3 tools in sequence (1 core)", total, None))

    for label, source in (("segprep prepare, extracted (hard links)", extracted), ("segprep prepare, from the zips", raw)):
        data = work / "data"
        shutil.rmtree(data, ignore_errors=True)
        seconds = timed(segprep("prepare", "cityscapes", "--raw", str(source), "--data", str(data), "--jobs",
                                str(args.jobs), "--quiet"))
        rows.append((f"{label}, --jobs {args.jobs}", seconds, total / seconds))
    data = work / "data"
    seconds = timed(segprep("verify", "cityscapes", "--data", str(data), "--jobs", str(args.jobs), "--quiet"))
    rows.append((f"segprep verify, --jobs {args.jobs}", seconds, None))
    shutil.rmtree(data, ignore_errors=True)
    seconds = timed(segprep("prepare", "cityscapes", "--raw", str(extracted), "--data", str(data), "--jobs", "1",
                            "--quiet"))
    rows.append(("segprep prepare, extracted, --jobs 1", seconds, total / seconds))

    print("\n| what | wall s | frames/s | speed-up vs the 3 tools |")
    print("|---|---:|---:|---:|")
    for label, seconds, speedup in rows:
        print(f"| {label} | {seconds:.1f} | {n / seconds:.1f} | {'' if speedup is None else f'{speedup:.1f}x'} |")
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
