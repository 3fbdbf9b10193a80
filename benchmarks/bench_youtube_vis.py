"""YouTube-VIS: CocoVID conversion of a large official train json, segprep vs a plain json.load + loop.

Generates an official-format train json of at least 200 MB (1280x720 videos, uncompressed RLE
of moving ellipses), then converts it in fresh processes and prints wall time and peak memory
(the process's maximum resident set size):

- segprep: ``segprep.encodings.cocovid.convert`` (windowed read, tracks re-read by span, streamed write);
- baseline, json.dump: ``json.load`` + the loop + ``json.dump`` to the file, which is what
  mmtracking's ``youtubevis2coco.py`` does through ``mmcv.load``/``mmcv.dump``;
- baseline, json.dumps: the same with the C encoder (``json.dumps``, then one write).

All three outputs must be byte-identical. Usage: ``python benchmarks/bench_youtube_vis.py [--mb 200]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from segprep.datasets.youtube_vis.sample import write_large_json  # noqa: E402

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {tests!r})
how, source, target = sys.argv[1:4]
start = time.monotonic()
if how == "segprep":
    from segprep.encodings.cocovid import convert
    with open(source, "rb") as f, open(target, "wb") as out:
        chunks, stats = convert(f, source, "2019", "train")
        for chunk in chunks:
            out.write(chunk)
else:
    from ytvis_reference import reference_cocovid
    with open(source) as f:
        official = json.load(f)
    converted = reference_cocovid(official, "train")
    with open(target, "w") as out:
        if how == "dump":
            json.dump(converted, out)
        else:
            out.write(json.dumps(converted))
print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def run(how: str, source: Path, target: Path) -> tuple[float, int, str]:
    child = _CHILD.format(tests=str(ROOT / "tests"))
    done = subprocess.run([sys.executable, "-c", child, how, str(source), str(target)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    if done.returncode != 0:
        raise SystemExit(f"{how} failed:\n{done.stderr}")
    seconds, peak = done.stdout.split()
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    target.unlink()
    return float(seconds), int(peak), digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the generated train json (default 200 MB)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench-work" / "youtube_vis")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = args.work / f"train_{args.mb}mb.json"
    if not source.exists():
        start = time.monotonic()
        info = write_large_json(source, "2019", target_bytes=args.mb << 20)
        print(f"generated {source.name}: {info['bytes'] / 1e6:.0f} MB, {info['videos']:,} videos, "
              f"{info['tracks']:,} tracks, {info['masks']:,} masks ({time.monotonic() - start:.0f} s)")
    size = source.stat().st_size
    rows = []
    for how, label in (("segprep", "segprep (windowed, streamed)"), ("dumps", "json.load + loop + json.dumps"),
                       ("dump", "json.load + loop + json.dump (mmcv.dump)")):
        seconds, peak, digest = run(how, source, args.work / f"out_{how}.json")
        rows.append((label, seconds, peak, digest))
    digests = {d for *_, d in rows}
    print(f"\nCocoVID conversion of a {size / 1e6:.0f} MB official train json ({os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"| {'converter':<40} | {'wall time':>9} | {'peak RSS':>9} | {'peak / json size':>16} |")
    print(f"|{'-' * 42}|{'-' * 11}|{'-' * 11}|{'-' * 18}|")
    for label, seconds, peak, _ in rows:
        print(f"| {label:<40} | {seconds:>7.1f} s | {peak / 1e6:>6.0f} MB | {peak / size:>15.2f}x |")
    print("outputs byte-identical" if len(digests) == 1 else "OUTPUTS DIFFER")


if __name__ == "__main__":
    main()
