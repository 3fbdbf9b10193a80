"""Cityscapes-VPS, Cityscapes-DVPS and SemKITTI-DVPS: prepare and verify throughput with 1 and all cores.

Generates the samples once (Cityscapes frames at their real 2048x1024, KITTI at 1241x376 / 1226x370),
then for each recipe runs ``segprep prepare`` from the archives into a fresh folder with ``--jobs 1``
and ``--jobs N`` and ``segprep verify`` with all cores, and prints wall time and frames per second.
A Cityscapes-VPS frame is a labelled frame (image, colour + instance maps read, labelmap,
panoptic_inst and, for val, panoptic_video written); the val snippets' img_all frames are placed too
and counted separately. A DVPS frame is an image, a label and a depth map.

    python benchmarks/bench_vps.py [--videos 6,3,1] [--width 2048] [--kitti-frames 20] [--work bench-work/vps]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import load_average, print_table, segprep, timed  # noqa: E402

from segprep.engine.executors import default_jobs  # noqa: E402


def count_files(root: Path, suffix: str) -> int:
    return sum(1 for p in root.rglob(f"*{suffix}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", default="6,3,1", help="Cityscapes-VPS sample videos as train,val,test")
    parser.add_argument("--width", type=int, default=2048, help="Cityscapes frame width")
    parser.add_argument("--kitti-frames", type=int, default=20, help="SemKITTI-DVPS frames per sequence (11 sequences)")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--work", type=Path, default=Path("bench-work/vps"))
    args = parser.parse_args()
    work = args.work.absolute()
    city_raw = work / f"raw-city-{args.videos.replace(',', '-')}-{args.width}"
    kitti_raw = work / f"raw-kitti-{args.kitti_frames}"
    if not (city_raw / "video_sequence.zip").exists():
        seconds = timed(segprep("sample", "cityscapes-dvps", "--out", str(city_raw), "--videos", args.videos,
                                "--width", str(args.width)))
        print(f"generated the Cityscapes sample in {seconds:.0f} s")
    if not (kitti_raw / "video_sequence.zip").exists():
        seconds = timed(segprep("sample", "semkitti-dvps", "--out", str(kitti_raw), "--frames", str(args.kitti_frames)))
        print(f"generated the KITTI sample in {seconds:.0f} s")
    print(f"{default_jobs()} cores; load average before: {load_average()}")
    rows = []
    for name, raw, folder, frame_suffix in (
            ("cityscapes-vps", city_raw, "cityscapes_vps", "panoptic_inst"),
            ("cityscapes-dvps", city_raw, "cityscapes-dvps", "_depth.png"),
            ("semkitti-dvps", kitti_raw, "semkitti-dvps", "_leftImg8bit.png")):
        for jobs in sorted({1, args.jobs}):
            data = work / f"data-{name}-{jobs}"
            shutil.rmtree(data, ignore_errors=True)
            start = time.perf_counter()
            timed(segprep("prepare", name, "--raw", str(raw), "--data", str(data), "--jobs", str(jobs), "--quiet"))
            seconds = time.perf_counter() - start
            root = data / folder
            if frame_suffix == "panoptic_inst":
                frames = sum(1 for _ in root.glob("*/panoptic_inst/*.png"))
                extra = f"+ {sum(1 for _ in root.glob('*/img_all/*.png')):,} img_all frames placed"
            else:
                frames = count_files(root, frame_suffix)
                extra = ""
            rows.append([name, "prepare", str(jobs), f"{frames:,}", f"{seconds:.1f} s", f"{frames / seconds:.1f}", extra])
        start = time.perf_counter()
        timed(segprep("verify", name, "--data", str(work / f"data-{name}-{args.jobs}"), "--jobs", str(args.jobs),
                      "--quiet"))
        seconds = time.perf_counter() - start
        rows.append([name, "verify", str(args.jobs), f"{frames:,}", f"{seconds:.1f} s", f"{frames / seconds:.1f}", ""])
    print_table(["dataset", "step", "jobs", "frames", "wall time", "frames/s", "note"], rows)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
