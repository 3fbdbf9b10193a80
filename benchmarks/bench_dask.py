"""The Dask executor against the local process pool on the same sample, and the client's memory.

1. KITTI-STEP from the sample archives: ``--jobs 2`` local pool vs a 2-worker LocalCluster
   (1 thread each) on loopback, alternated for three rounds; the overhead ratio is the median
   dask time / the median local time.
2. Client memory for plans of growing size (tiny tasks), local pool and Dask: peak RSS of the
   client process, and that peak minus the RSS after planning (what the run adds). Bounded
   batches keep what scheduling adds flat; the journal's lines (~0.2 KB per task) remain.

    python benchmarks/bench_dask.py [--frames 340] [--tasks 25000,100000,250000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import load_average, print_table, segprep, timed  # noqa: E402


def run_many(n: int, scheduler: str, out: str) -> None:
    """In a child process: plan n tiny tasks, run them on the cluster, print RSS figures as json."""
    from segprep.engine.runner import Plan, RunOptions, run
    from segprep.engine.tasks import Task

    tasks = [Task(f"{i:07d}", write_index, (), (f"{i // 1000:04d}/{i:07d}.txt",), {"i": i}) for i in range(n)]
    planned = _rss_mb()
    start = time.perf_counter()
    options = RunOptions(quiet=True, scheduler=scheduler) if scheduler != "local" else RunOptions(jobs=2, quiet=True)
    summary = run(Plan(tasks, "bench/1"), "bench", Path(out), Path(out) / ".state", options)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ok": summary.ok, "written": summary.written, "seconds": seconds, "planned_mb": planned, "peak_mb": peak}))


def write_index(ctx, task):
    ctx.write_bytes(task.outputs[0], str(task.params["i"]).encode())


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=340)
    parser.add_argument("--tasks", default="25000,100000")
    parser.add_argument("--work", type=Path, default=Path("bench-work/dask"))
    args = parser.parse_args()
    import distributed

    work = args.work.absolute()
    raw = Path("bench-work/kitti-step").absolute() / f"raw-{args.frames}"
    if not (raw / "kitti-step.tar.gz").exists():
        timed(segprep("sample", "kitti-step", "--out", str(raw), "--frames", str(args.frames)))
    frames = 6 * args.frames
    print(f"load average before: {load_average()}")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        # Alternate the executors, three rounds: this VM's disk writeback makes single runs vary by 30%+.
        executors = (("local pool, 2 processes", ["--jobs", "2"]),
                     ("Dask LocalCluster, 2 workers x 1 thread", ["--executor", "dask", "--scheduler",
                                                                  cluster.scheduler_address]))
        times: dict[str, list[float]] = {name: [] for name, _ in executors}
        for _ in range(3):
            for name, extra in executors:
                data = work / "data"
                shutil.rmtree(data, ignore_errors=True)
                times[name].append(timed(segprep("prepare", "kitti-step", "--raw", str(raw), "--data", str(data),
                                                 "--quiet", *extra), stderr=subprocess.DEVNULL))
        rows = [[name, " / ".join(f"{t:.2f}" for t in runs), f"{statistics.median(runs):.2f}",
                 f"{frames / statistics.median(runs):,.0f}"] for name, runs in times.items()]
        local, dask = (times[name] for name, _ in executors)
        ratios = [d / l for l, d in zip(local, dask)]
        print(f"\nKITTI-STEP sample from archives: {frames:,} frames + {4 * args.frames:,} maps (3 alternated rounds)")
        print_table(["executor", "wall s per round", "median s", "frames/s"], rows)
        print(f"overhead ratio dask / local: {statistics.median(dask) / statistics.median(local):.2f} (medians); "
              f"per round {', '.join(f'{r:.2f}' for r in ratios)}")

        mem_rows = []
        for n in (int(x) for x in args.tasks.split(",")):
            for executor, address in (("local pool", "local"), ("Dask", cluster.scheduler_address)):
                out = work / f"many-{n}"
                shutil.rmtree(out, ignore_errors=True)
                child = subprocess.run([sys.executable, __file__, "--child", str(n), address, str(out)],
                                       capture_output=True, text=True, check=True)
                figures = json.loads(child.stdout.strip().splitlines()[-1])
                mem_rows.append([f"{n:,}", executor, f"{figures['seconds']:.1f}", f"{n / figures['seconds']:,.0f}",
                                 f"{figures['planned_mb']:.0f}", f"{figures['peak_mb']:.0f}",
                                 f"{figures['peak_mb'] - figures['planned_mb']:.0f}"])
                shutil.rmtree(out, ignore_errors=True)
        print("\nclient memory, tiny tasks (the local pool row shows the runner's own bookkeeping: journal lines and")
        print("returned values, kept for resume and finalize; Dask adds its client library, not a cost per task)")
        print_table(["tasks", "executor", "wall s", "tasks/s", "RSS after planning MB", "peak RSS MB",
                     "added by the run MB"], mem_rows)
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(Path(__file__).parent))
        run_many(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        main()
