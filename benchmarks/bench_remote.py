"""Reading the Cityscapes sequence zip in place (issue 18) against downloading it whole and preparing.

Generates a Cityscapes-VPS sample at the real 2048x1024 frame size, pads its
``leftImg8bit_sequence_trainvaltest.zip`` with unneeded train frames (incompressible, stored) until the
frames Cityscapes-VPS reads are about a tenth of the archive, and serves it from a loopback web
server with a Cityscapes-like cookie login (tests/remote_server.py). Then, each into a fresh folder:

* in place: ``segprep prepare cityscapes-vps --raw DOWNLOADS --remote cityscapes`` (DOWNLOADS holds the
  VPS annotations and gtFine; the sequence zip is read on the server);
* download, then prepare: the whole zip streamed to disk with the logged-in session (what
  ``csDownload`` does), then ``segprep prepare`` from the local folder.

Both run unthrottled and with the server throttled to ``--rate`` MB/s (a stand-in for a network
link). Prints bytes served and wall time, checks both trees are equal, and deletes the big zip.

    python benchmarks/bench_remote.py [--size-gb 2.5] [--videos 1,4,1] [--rate 100] [--work bench-work/remote]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import load_average, print_table, segprep  # noqa: E402
from remote_server import RangeServer  # noqa: E402

SEQ = "leftImg8bit_sequence_trainvaltest.zip"
BLOCK = 2_200_000  # a padding frame, about a real 2048x1024 PNG


def tree(root: Path) -> dict[str, int]:
    """Relative path -> size of every prepared file (state folder left out), plus a digest of the contents."""
    import hashlib

    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if not rel.startswith(".segprep/"):
                out[rel] = hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
    return out


def needed_bytes(raw: Path) -> tuple[int, int, int]:
    """(needed member bytes, directory bytes, members) of the sequence zip for a Cityscapes-VPS plan."""
    from segprep import datasets
    from segprep.io.sources import MemberSource

    recipe = datasets.get("cityscapes-vps")
    options = {o.dest: o.default for o in recipe.OPTIONS}
    plan = recipe.plan(raw, raw.parent / "unused", options)
    names = {s.member.name for t in plan.tasks for s in t.inputs
             if isinstance(s, MemberSource) and Path(s.archive.parts[0]).name == SEQ}
    with zipfile.ZipFile(raw / SEQ) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        cd = zf.start_dir
    ends = {i.filename: (infos[k + 1].header_offset if k + 1 < len(infos) else cd) for k, i in enumerate(infos)}
    need = sum(ends[i.filename] - i.header_offset for i in infos if i.filename in names)
    return need, (raw / SEQ).stat().st_size - cd, len(names)


def pad(raw: Path, target: int) -> None:
    """Adds stored train frames of random bytes to the sequence zip until it is ``target`` bytes."""
    path = raw / SEQ
    rng = random.Random(18)
    blocks = [rng.randbytes(BLOCK) for _ in range(4)]
    with zipfile.ZipFile(path, "a") as zf:
        i = 0
        while path.stat().st_size < target:
            for _ in range(50):
                data = i.to_bytes(8, "little") + blocks[i % 4][8:]
                zf.writestr(f"leftImg8bit_sequence/train/zurich/zurich_{i // 30:06d}_{i % 30:06d}_leftImg8bit.png",
                            data, compress_type=zipfile.ZIP_STORED)
                i += 1
            zf.fp.flush()


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def download(url: str, target: Path, env: dict) -> float:
    """The whole package through a logged-in session, as csDownload does (login, then one streamed GET)."""
    import requests

    start = time.perf_counter()
    session = requests.Session()
    session.get(f"{url}/login", allow_redirects=False)
    r = session.post(f"{url}/login", data={"username": env["CITYSCAPES_USERNAME"], "password":
                                           env["CITYSCAPES_PASSWORD"], "submit": "Login"}, allow_redirects=False)
    assert r.status_code == 302
    with session.get(f"{url}/file-handling/?packageID=14", stream=True, allow_redirects=False) as response:
        response.raise_for_status()
        with open(target, "wb") as f:
            for chunk in response.iter_content(1 << 20):
                f.write(chunk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.5, help="size of the padded sequence zip (GB)")
    parser.add_argument("--videos", default="1,4,1", help="Cityscapes-VPS sample videos as train,val,test")
    parser.add_argument("--rate", type=float, default=100.0, help="throttled server rate, MB/s (0: only unthrottled)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("bench-work/remote"))
    parser.add_argument("--keep", action="store_true", help="keep the generated zip")
    args = parser.parse_args()
    work = args.work.absolute()
    raw = work / "raw"
    if not (raw / SEQ).exists():
        shutil.rmtree(work, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run(segprep("sample", "cityscapes-vps", "--out", str(raw), "--videos", args.videos,
                               "--width", "2048", "--jobs", str(args.jobs)), check=True, stdout=subprocess.DEVNULL)
        pad(raw, int(args.size_gb * 1e9))
        print(f"generated the sample in {time.perf_counter() - t:.0f} s")
    size = (raw / SEQ).stat().st_size
    need, directory, members = needed_bytes(raw)
    downloads = work / "downloads"
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir()
    for name in ("cityscapes-vps-dataset-1.0.zip", "gtFine_trainvaltest.zip"):
        shutil.copy(raw / name, downloads / name)
    print(f"sequence zip {size / 1e9:.2f} GB; Cityscapes-VPS reads {members:,} members, {need / 1e6:,.0f} MB "
          f"({100 * need / size:.1f}%) + the directory {directory / 1e3:,.0f} KB; 2 cores, load average "
          f"{load_average()}\n")
    rows = []
    trees = []
    rates = [0.0] + ([args.rate] if args.rate else [])
    with RangeServer({"/files/seq.zip": str(raw / SEQ)}, packages={SEQ: (14, "/files/seq.zip")},
                     users={"bench": "bench"}) as server:
        env = dict(os.environ, SEGPREP_CITYSCAPES_URL=server.url, CITYSCAPES_USERNAME="bench",
                   CITYSCAPES_PASSWORD="bench")
        for rate in rates:
            server.rate = rate * 1e6 if rate else None
            label = f"{rate:.0f} MB/s" if rate else "loopback"
            data = work / "in-place"
            shutil.rmtree(data, ignore_errors=True)
            server.reset_counts()
            wall = run(segprep("prepare", "cityscapes-vps", "--raw", str(downloads), "--data", str(data),
                               "--remote", "cityscapes", "--jobs", str(args.jobs), "--quiet"), env)
            served = server.served["/files/seq.zip"]
            rows.append([label, "read in place (--remote cityscapes)", f"{served / 1e6:,.1f}",
                         f"{100 * served / size:.1f}", f"{100 * (served - need - directory) / (need + directory):+.2f}",
                         "-", "-", f"{wall:.1f}"])
            trees.append(tree(data))
            shutil.rmtree(data)
            local = work / "local"
            shutil.rmtree(local, ignore_errors=True)
            local.mkdir()
            for name in os.listdir(downloads):
                os.link(downloads / name, local / name)
            server.reset_counts()
            fetch = download(server.url, local / SEQ, env)
            served = server.served["/files/seq.zip"]
            data = work / "from-download"
            shutil.rmtree(data, ignore_errors=True)
            prep = run(segprep("prepare", "cityscapes-vps", "--raw", str(local), "--data", str(data),
                               "--jobs", str(args.jobs), "--quiet"), env)
            rows.append([label, "download whole, then prepare", f"{served / 1e6:,.1f}", f"{100 * served / size:.1f}",
                         f"{100 * (served - need - directory) / (need + directory):+.1f}", f"{fetch:.1f}",
                         f"{prep:.1f}", f"{fetch + prep:.1f}"])
            trees.append(tree(data))
            shutil.rmtree(data)
            shutil.rmtree(local)
    assert all(t == trees[0] for t in trees), "the prepared trees differ"
    print_table(["server", "procedure", "MB served", "% of zip", "% over floor", "download s", "prepare s", "total s"],
                rows)
    print(f"\nall {len(trees)} prepared trees are identical ({len(trees[0]):,} files); load average after: "
          f"{load_average()}")
    if not args.keep:
        (raw / SEQ).unlink()
        print(f"deleted {raw / SEQ}")


if __name__ == "__main__":
    main()
