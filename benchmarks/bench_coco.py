"""COCO panoptic -> panoptic_stuff: images per second, segprep against a mask-per-segment baseline.

Rows:
- kernel, PNG bytes in memory -> PNG bytes in memory (what codec-limits.md measures; its limit for
  this job is ~645 images/s on 2 cores): segprep's ``panoptic_stuff_png`` (libspng decode, one
  2^24-entry lookup, libpng level 1 RLE/SUB encode) and the baseline written here the way
  detectron2's prepare_panoptic_fpn.py works (Pillow decode, one boolean mask per segment, Pillow
  default PNG);
- end to end, ``segprep prepare coco`` on a generated download (files, journal and all), from the
  zips (PNG zips deflated inside the panoptic zip: one streamed pass) and from extracted folders;
  the rate is panoptic images / wall time of the whole run (which also places every photo and json).

Every input is a generated 640x480 COCO-like panoptic PNG (Pillow level 6, like the real ones).
Usage: python benchmarks/bench_coco.py [--images 1000] [--work bench-work/coco]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))
from common import load_average, print_table, segprep  # noqa: E402

from segprep.datasets.coco.work import panoptic_stuff_png  # noqa: E402
from segprep.encodings import coco  # noqa: E402
from segprep.engine.executors import default_jobs  # noqa: E402
from segprep.io.images import encode_png  # noqa: E402
from segprep.datasets.coco.sample import _annotations, render_panoptic, write_sample  # noqa: E402

CODEC_LIMIT_2_CORES = 645  # ../shared/docs/codec-limits.md, job (c)


# ---------------------------------------------------------------------------- inputs


def make_item(image_id: int) -> tuple[bytes, list[list[int]]]:
    rng = np.random.default_rng(image_id)
    ids, kinds = render_panoptic(rng, 640, 480, objects=True, crowd=image_id % 3 == 0)
    segments, _ = _annotations(ids, kinds, image_id)
    return encode_png(coco.id2rgb(ids)), [[s["id"], s["category_id"]] for s in segments]


# ---------------------------------------------------------------------------- the two conversions


def segprep_kernel(item) -> bytes:
    data, segments = item
    return panoptic_stuff_png(data, "bench.png", segments, None)


def baseline_kernel(item) -> bytes:
    """detectron2's way: Pillow decode, 255 everywhere, one full-image mask per segment, Pillow PNG."""
    from PIL import Image

    data, segments = item
    rgb = np.asarray(Image.open(io.BytesIO(data)), dtype=np.uint32)
    ids = rgb[:, :, 0] + 256 * rgb[:, :, 1] + 256 * 256 * rgb[:, :, 2]
    out = np.zeros(ids.shape, dtype=np.uint8) + 255
    for segment_id, category_id in segments:
        out[ids == segment_id] = coco.STUFF_VALUE[category_id]
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, format="PNG")
    return buffer.getvalue()


def _run_chunk(args) -> tuple[float, float, int, float]:
    name, items, start_at = args
    fn = {"segprep": segprep_kernel, "baseline": baseline_kernel}[name]
    fn(items[0])  # warm-up: imports, lookup table
    while time.time() < start_at:  # both workers start together
        time.sleep(0.001)
    begin, cpu = time.time(), time.process_time()
    size = sum(len(fn(item)) for item in items)
    return begin, time.time(), size, time.process_time() - cpu


def kernel_rate(name: str, items: list, procs: int) -> tuple[float, float, float]:
    """(images/s, CPU ms per image, mean output KB) with ``procs`` worker processes sharing the items."""
    chunks = [items[i::procs] for i in range(procs)]
    with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(int, range(procs)))  # start the workers
        start_at = time.time() + 1.0
        results = list(pool.map(_run_chunk, [(name, chunk, start_at) for chunk in chunks]))
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    cpu_ms = 1000 * sum(r[3] for r in results) / len(items)
    return len(items) / wall, cpu_ms, sum(r[2] for r in results) / len(items) / 1000


# ---------------------------------------------------------------------------- end to end


def _timed_prepare(raw: Path, data: Path, jobs: int) -> tuple[float, float]:
    """(wall s, CPU s of all its processes) of one ``segprep prepare coco`` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(segprep("prepare", "coco", "--raw", str(raw), "--data", str(data), "--jobs", str(jobs), "--quiet"),
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def prepare_rate(raw: Path, data: Path, jobs: int, images: int) -> tuple[float, float, float]:
    """(images/s, images/s after start-up, CPU ms per image) of a fresh run. Start-up (interpreters,
    imports, worker spawn, reading the jsons, planning) is the wall time of an immediate rerun,
    which finds everything done: at 118k images it is spread over 100x more work."""
    shutil.rmtree(data, ignore_errors=True)
    wall, cpu = _timed_prepare(raw, data, jobs)
    startup, _ = _timed_prepare(raw, data, jobs)
    return images / wall, images / max(wall - startup, 1e-9), 1000 * cpu / images


def extract(raw: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    for name in ("train2017.zip", "val2017.zip", "annotations_trainval2017.zip", "panoptic_annotations_trainval2017.zip"):
        with zipfile.ZipFile(raw / name) as zf:
            zf.extractall(out)
    for split in ("train", "val"):
        with zipfile.ZipFile(out / f"annotations/panoptic_{split}2017.zip") as zf:
            zf.extractall(out)
        (out / f"annotations/panoptic_{split}2017.zip").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-work" / "coco")
    parser.add_argument("--repeats", type=int, default=3, help="kernel runs per row; the median is shown")
    parser.add_argument("--skip-prepare", action="store_true", help="kernel rows only")
    args = parser.parse_args()
    cores = default_jobs()
    print(f"generating {args.images} 640x480 panoptic PNGs ...", file=sys.stderr)
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn")) as pool:
        items = list(pool.map(make_item, range(1, args.images + 1), chunksize=16))
    segments = sum(len(s) for _, s in items) / len(items)
    png_kb = sum(len(d) for d, _ in items) / len(items) / 1000
    for data, segs in items[:20]:  # the two conversions agree
        from PIL import Image

        assert np.array_equal(np.asarray(Image.open(io.BytesIO(segprep_kernel((data, segs))))),
                              np.asarray(Image.open(io.BytesIO(baseline_kernel((data, segs))))))
    rows = []
    for name, label in (("baseline", "kernel: mask per segment (detectron2's way), Pillow PNG"),
                        ("segprep", "kernel: segprep (libspng, 2^24 LUT, libpng level 1 RLE/SUB)")):
        for procs in sorted({1, cores}):
            runs = sorted((kernel_rate(name, items, procs) for _ in range(args.repeats)), key=lambda r: r[0])
            rate, cpu_ms, out_kb = runs[len(runs) // 2]
            rows.append((label, procs, rate, None, cpu_ms, out_kb, load_average()))
    if not args.skip_prepare:
        raw = args.work / "raw"
        marker = args.work / f"download-{args.images}.done"  # reuse the download of an earlier run
        extracted = args.work / "extracted"
        if not marker.exists():
            print(f"writing a download with {args.images} train + 50 val images ...", file=sys.stderr)
            shutil.rmtree(args.work, ignore_errors=True)
            write_sample(raw, train=args.images, val=50, nested="deflated", jobs=cores, size=(640, 480))
            extract(raw, extracted)
            marker.touch()
        total = args.images + 50
        for source, label in ((raw, "prepare from the zips (nested PNG zips deflated: one pass)"),
                              (extracted, "prepare from extracted folders (hard links)")):
            for jobs in sorted({1, cores}):
                rate, marginal, cpu_ms = prepare_rate(source, args.work / "data", jobs, total)
                rows.append((label, jobs, rate, marginal, cpu_ms, None, load_average()))
    print(f"\nCOCO panoptic -> panoptic_stuff, {args.images} generated 640x480 PNGs "
          f"({segments:.1f} segments, {png_kb:.1f} KB each); machine: {cores} cores\n")
    base = {r[1]: r[2] for r in rows if r[0].startswith("kernel: mask")}
    table = []
    for label, procs, rate, marginal, cpu_ms, out_kb, machine in rows:
        versus = f"{rate / base[procs]:.1f}x" if procs in base else ""
        limit = f"{CODEC_LIMIT_2_CORES / rate:.2f}" if procs == 2 else ""
        table.append([label, procs, f"{rate:,.0f}", "" if marginal is None else f"{marginal:,.0f}", f"{cpu_ms:.2f}",
                      versus, limit, "" if out_kb is None else f"{out_kb:.1f}", machine])
    print_table(["pipeline", "processes", "images/s", "after start-up", "CPU ms per image", "vs baseline",
                 "645/s (limit) / this", "out KB", "load 1/5/15 min"], table)
    print(f"\ncodec-limits.md, same job on a quiet machine: {CODEC_LIMIT_2_CORES}/s on 2 cores, "
          f"{1000 / 333:.2f} CPU ms per image (pyspng -> LUT -> cv2 PNG, malloc tuned); its Pillow + "
          "per-segment approach: 253/s. 'load' is the load average when the row finished "
          "(other work on the machine).")


if __name__ == "__main__":
    main()
