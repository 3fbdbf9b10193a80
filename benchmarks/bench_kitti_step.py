"""KITTI-STEP: segprep against the documented manual procedure, same machine, same run.

The manual procedure is what the dataset instructions amount to: unzip the image archive,
untar the panoptic maps, then move every file to its new name one by one (as Video K-Net's
scripts/kitti_step_prepare.py does with shutil.move). segprep reads the archives in place, or
hard-links an extracted download. Prints wall time, frames per second and the peak extra disk
space each needed (sampled every 50 ms in the working folder).

    python benchmarks/bench_kitti_step.py [--frames 340] [--jobs N] [--work bench-work/kitti-step]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PeakDisk, disk_bytes, load_average, print_table, segprep, timed  # noqa: E402

from segprep.datasets.kitti_step import TRAIN_SEQUENCES, VAL_SEQUENCES  # noqa: E402
from segprep.engine.executors import default_jobs  # noqa: E402
from segprep.datasets.kitti_step.sample import SEQUENCES  # noqa: E402


def manual_procedure(raw: Path, scratch: Path) -> None:
    """unzip + untar + shutil.move one by one into video_sequence/{split}/."""
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", str(raw / "data_tracking_image_2.zip"), "-d", str(scratch)], check=True)
    else:
        with zipfile.ZipFile(raw / "data_tracking_image_2.zip") as zf:
            zf.extractall(scratch)
    if shutil.which("tar"):
        subprocess.run(["tar", "xzf", str(raw / "kitti-step.tar.gz"), "-C", str(scratch)], check=True)
    else:
        with tarfile.open(raw / "kitti-step.tar.gz") as tf:
            tf.extractall(scratch, filter="data")
    out = scratch / "video_sequence"
    jobs = [("train", s, "training", True) for s in TRAIN_SEQUENCES] + [("val", s, "training", True) for s in VAL_SEQUENCES]
    jobs += [("test", s, "testing", False) for s in range(29)]
    for split, seq, folder, labelled in jobs:
        (out / split).mkdir(parents=True, exist_ok=True)
        if labelled:
            maps = scratch / "kitti-step/panoptic_maps" / split / f"{seq:04d}"
            if maps.is_dir():
                for name in sorted(os.listdir(maps)):
                    shutil.move(maps / name, out / split / f"{seq:06d}_{name.split('.')[0]}_panoptic.png")
        images = scratch / folder / "image_02" / f"{seq:04d}"
        if images.is_dir():
            for name in sorted(os.listdir(images)):
                shutil.move(images / name, out / split / f"{seq:06d}_{name.split('.')[0]}_leftImg8bit.png")


def listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*.png"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=340, help="frames per sample sequence (6 sequences)")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--work", type=Path, default=Path("bench-work/kitti-step"))
    args = parser.parse_args()
    work = args.work.absolute()
    raw = work / f"raw-{args.frames}"
    n_images = sum(len(s) for s in SEQUENCES.values()) * args.frames
    n_maps = (len(SEQUENCES["train"]) + len(SEQUENCES["val"])) * args.frames
    if not (raw / "kitti-step.tar.gz").exists():
        seconds = timed(segprep("sample", "kitti-step", "--out", str(raw), "--frames", str(args.frames)))
        print(f"generated the sample in {seconds:.0f} s")
    archives = sum(f.stat().st_size for f in raw.iterdir())
    print(f"sample: {n_images:,} frames + {n_maps:,} panoptic maps, archives {archives / 1e6:.0f} MB; "
          f"{default_jobs()} cores, load average before: {load_average()}")

    rows = []

    def row(name: str, seconds: float, peak: int, note: str) -> None:
        rows.append([name, f"{seconds:.2f}", f"{n_images / seconds:,.0f}", f"{peak / 1e6:,.0f}", note])

    manual = work / "manual"
    shutil.rmtree(manual, ignore_errors=True)
    manual.mkdir(parents=True)
    with PeakDisk(manual) as peak:
        start = time.perf_counter()
        manual_procedure(raw, manual)
        seconds = time.perf_counter() - start
    row("manual: unzip + tar xzf + shutil.move one by one", seconds, peak.peak, "1 process")
    reference = listing(manual / "video_sequence")

    for jobs in sorted({1, args.jobs}):
        data = work / f"segprep-archives-{jobs}"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        with PeakDisk(data) as peak:
            seconds = timed(segprep("prepare", "kitti-step", "--raw", str(raw), "--data", str(data),
                                    "--jobs", str(jobs), "--quiet"))
        assert listing(data / "kitti-step/video_sequence") == reference, "segprep and the manual result differ"
        row("segprep prepare, from the archives", seconds, peak.peak, f"--jobs {jobs}")

    extracted = work / f"extracted-{args.frames}"
    if not extracted.exists():
        manual_procedure_extract_only(raw, extracted)
    data = work / "segprep-extracted"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    with PeakDisk(data, exclude_inodes_of=extracted) as peak:
        seconds = timed(segprep("prepare", "kitti-step", "--raw", str(extracted), "--data", str(data),
                                "--jobs", str(args.jobs), "--quiet"))
    row("segprep prepare, extracted download (hard links)", seconds, peak.peak, f"--jobs {args.jobs}, checks every PNG")
    rerun = timed(segprep("prepare", "kitti-step", "--raw", str(raw), "--data", str(work / f"segprep-archives-{args.jobs}"),
                          "--jobs", str(args.jobs), "--quiet"))
    row("segprep rerun after completion (journal skip)", rerun, 0, "nothing to do")
    verify = timed(segprep("verify", "kitti-step", "--data", str(work / f"segprep-archives-{args.jobs}"),
                           "--jobs", str(args.jobs), "--quiet"))
    rows.append(["segprep verify (decode every map, CRC every image)", f"{verify:.2f}", f"{n_images / verify:,.0f}", "0",
                 f"--jobs {args.jobs}"])
    print()
    print_table(["procedure", "wall s", "frames/s", "peak extra disk MB", "note"], rows)
    print(f"\nload average after: {load_average()}; extracted size on disk {disk_bytes(extracted) / 1e6:,.0f} MB")


def manual_procedure_extract_only(raw: Path, target: Path) -> None:
    target.mkdir(parents=True)
    with zipfile.ZipFile(raw / "data_tracking_image_2.zip") as zf:
        zf.extractall(target)
    with tarfile.open(raw / "kitti-step.tar.gz") as tf:
        tf.extractall(target, filter="data")


if __name__ == "__main__":
    main()
