"""Reading downloads where they are: archives by byte ranges on a web server (with a Cityscapes-like cookie
login) and in an object store (fsspec's memory filesystem), against servers on 127.0.0.1 started here.

Each end-to-end test counts the bytes served and compares them with the floor a perfect reader needs (the
zip's directory to the end of the file, plus the local header and data of every needed member), and
checks that the prepared tree equals the one prepared from a local copy."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from conftest import kill_part_way, tree_bytes
from remote_server import RangeServer
from segprep import api, datasets
from segprep.io import homes, remote
from segprep.io.archives import Archive, list_members
from segprep.io.sources import MemberSource, fetch_remote

SEQ = "leftImg8bit_sequence_trainvaltest.zip"
USERS = {"ann": "secret"}
PADDING_MEMBERS = 40  # unneeded train frames added to the sample sequence zip: the needed part is ~1/4


# ---------------------------------------------------------------------- helpers


def floor_bytes(zip_path: Path, names) -> int:
    """The least a reader must transfer: directory to the end + each needed member's header and data."""
    with zipfile.ZipFile(zip_path) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        cd_start = zf.start_dir
    ends = {info.filename: (infos[i + 1].header_offset if i + 1 < len(infos) else cd_start)
            for i, info in enumerate(infos)}
    starts = {info.filename: info.header_offset for info in infos}
    return zip_path.stat().st_size - cd_start + sum(ends[n] - starts[n] for n in set(names))


def needed_members(name: str, raw: Path, archive_name: str, options=None) -> set[str]:
    """The members of ``archive_name`` the plan of ``name`` reads (from a plan made on a local copy)."""
    recipe = datasets.get(name)
    options = {o.dest: o.default for o in recipe.OPTIONS} | dict(options or {})
    plan = recipe.plan(raw, raw.parent / "unused-out", options)
    return {s.member.name for t in plan.tasks for s in t.inputs
            if isinstance(s, MemberSource) and Path(s.archive.parts[0]).name == archive_name}


def state_free(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if not k.startswith(".segprep/")}


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    remote.forget_all()


@pytest.fixture(scope="module")
def vps(tmp_path_factory):
    """A Cityscapes-VPS sample whose sequence zip is padded with unneeded train frames, and its local result."""
    base = tmp_path_factory.mktemp("remote-vps")
    raw = base / "raw"
    api.sample("cityscapes-vps", raw, options={"videos": "2,2,1"}, jobs=2)
    original = raw / SEQ
    padded = raw / (SEQ + ".new")
    rng = random.Random(18)
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(padded, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info), compress_type=info.compress_type)
        for i in range(PADDING_MEMBERS):
            name = f"leftImg8bit_sequence/train/zurich/zurich_{i:06d}_000000_leftImg8bit.png"
            dst.writestr(name, rng.randbytes(1_500_000), compress_type=zipfile.ZIP_STORED)
    padded.replace(original)
    local = base / "local"
    assert api.prepare("cityscapes-vps", raw, local, jobs=2, quiet=True).ok
    needed = needed_members("cityscapes-vps", raw, SEQ)
    assert needed
    return raw, state_free(tree_bytes(local)), needed


def cityscapes_server(zip_path: Path) -> RangeServer:
    return RangeServer({"/files/seq.zip": str(zip_path)}, packages={SEQ: (14, "/files/seq.zip")}, users=USERS)


def remote_raw(vps_raw: Path, tmp: Path) -> Path:
    """--raw without the sequence zip: the VPS annotations and gtFine are local."""
    raw = tmp / "downloads"
    raw.mkdir()
    for name in ("cityscapes-vps-dataset-1.0.zip", "gtFine_trainvaltest.zip"):
        shutil.copy(vps_raw / name, raw / name)
    return raw


@pytest.fixture
def login_env(monkeypatch):
    def set_server(server: RangeServer, user="ann", password="secret"):
        monkeypatch.setenv(homes.CITYSCAPES_URL_ENV, server.url)
        monkeypatch.setenv("CITYSCAPES_USERNAME", user)
        monkeypatch.setenv("CITYSCAPES_PASSWORD", password)
        monkeypatch.setenv(remote.CONNECTIONS_ENV, "4")
    return set_server


# ---------------------------------------------------------------------- the ranged reader


def synthetic_zip(members=60, size=40_000, seed=1) -> bytes:
    rng = random.Random(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(members):
            kind = zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED
            zf.writestr(f"d/{i:04d}.bin", rng.randbytes(size // 2) + bytes(size // 2), compress_type=kind)
    return buf.getvalue()


def _open_http(server: RangeServer, tmp: Path, path="/a/x.zip") -> Archive:
    index = homes.open_raw(server.url + path.rsplit("/", 1)[0], tmp / "state", [path.rsplit("/", 1)[1]])
    return Archive((str(index / path.rsplit("/", 1)[1]),), "zip")


def test_listing_takes_one_request_and_members_come_checked_with_the_floor_of_bytes(tmp_path):
    data = synthetic_zip()
    (tmp_path / "x.zip").write_bytes(data)
    with RangeServer({"/a/x.zip": data}) as server:
        archive = _open_http(server, tmp_path)
        members = list_members(archive)
        assert server.requests == 1  # the 64 KiB tail holds the whole directory
        wanted = [MemberSource(archive, m) for m in members[::6]]
        got = fetch_remote(wanted)
    reference = zipfile.ZipFile(io.BytesIO(data))
    assert {s.member.name: got[s.describe()] for s in wanted} == {s.member.name: reference.read(s.member.name)
                                                                  for s in wanted}
    floor = floor_bytes(tmp_path / "x.zip", [s.member.name for s in wanted])
    assert floor <= server.bytes_served <= floor + remote.TAIL


def test_dropped_connections_and_5xx_are_retried_and_resume_where_they_stopped(tmp_path):
    data = synthetic_zip()
    (tmp_path / "x.zip").write_bytes(data)
    with RangeServer({"/a/x.zip": data}) as server:
        archive = _open_http(server, tmp_path)
        members = list_members(archive)
        server.reset_counts()
        server.faults.drop_after = [15_000, 3_000]  # two responses cut mid-member
        server.faults.errors_5xx = 2
        wanted = [MemberSource(archive, m) for m in members[10:20]]
        got = fetch_remote(wanted)
        stats = remote.reader(archive.parts[0]).stats
    reference = zipfile.ZipFile(io.BytesIO(data))
    assert all(got[s.describe()] == reference.read(s.member.name) for s in wanted)
    assert stats.retries >= 4
    floor = floor_bytes(tmp_path / "x.zip", [s.member.name for s in wanted]) - (len(data) - zipfile.ZipFile(
        tmp_path / "x.zip").start_dir)
    # resumed: each drop costs at most the one partial block in flight (64 KiB), never the range again
    assert server.bytes_served <= floor + 2 * (64 << 10)


def test_a_server_that_ignores_ranges_is_refused_with_the_reason(tmp_path):
    with RangeServer({"/a/x.zip": synthetic_zip()}) as server:
        server.faults.ranges = False
        with pytest.raises(remote.RangesNotSupported, match="ignores byte ranges.*whole"):
            _open_http(server, tmp_path)


def test_a_server_without_suffix_ranges_is_read_by_explicit_offsets(tmp_path):
    data = synthetic_zip()
    with RangeServer({"/a/x.zip": data}) as server:
        server.faults.suffix_ranges = False
        archive = _open_http(server, tmp_path)
        members = list_members(archive)
        got = fetch_remote([MemberSource(archive, members[5])])
    assert list(got.values()) == [zipfile.ZipFile(io.BytesIO(data)).read(members[5].name)]


def test_a_corrupted_member_is_named_and_the_others_are_delivered(tmp_path):
    data = bytearray(synthetic_zip())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("d/0011.bin")
    data[info.header_offset + 30 + len(info.filename) + 100] ^= 0xFF
    with RangeServer({"/a/x.zip": bytes(data)}) as server:
        archive = _open_http(server, tmp_path)
        wanted = [MemberSource(archive, m) for m in list_members(archive)[9:14]]
        got = fetch_remote(wanted)
    failed = {k: v for k, v in got.items() if isinstance(v, Exception)}
    assert list(failed) == ["x.zip:d/0011.bin"]
    assert "d/0011.bin" in str(failed["x.zip:d/0011.bin"]) and "CRC" in str(failed["x.zip:d/0011.bin"]) or \
        "damaged" in str(failed["x.zip:d/0011.bin"])
    assert all(isinstance(v, bytes) for k, v in got.items() if k not in failed)


# ---------------------------------------------------------------------- Cityscapes: --remote cityscapes


def test_cityscapes_vps_reads_the_sequence_zip_on_the_server_with_a_login(vps, tmp_path, login_env):
    vps_raw, local_tree, needed = vps
    raw = remote_raw(vps_raw, tmp_path)
    with cityscapes_server(vps_raw / SEQ) as server:
        login_env(server)
        dry = api.prepare("cityscapes-vps", raw, tmp_path / "dry", jobs=2, quiet=True, remote=["cityscapes"],
                          dry_run=True)
        floor = floor_bytes(vps_raw / SEQ, needed)
        directory = (vps_raw / SEQ).stat().st_size - zipfile.ZipFile(vps_raw / SEQ).start_dir
        assert f"will fetch {_human(floor - directory)}" in dry.plan_text
        server.reset_counts()
        summary = api.prepare("cityscapes-vps", raw, tmp_path / "data", jobs=2, quiet=True, remote=["cityscapes"])
        assert summary.ok, summary.failures
        served = server.served["/files/seq.zip"]
    assert state_free(tree_bytes(tmp_path / "data")) == local_tree
    assert floor <= served <= floor * 1.03 + remote.TAIL, (served, floor)
    size = (vps_raw / SEQ).stat().st_size
    assert served < size * 0.5  # a fraction of the archive
    assert any("remote: fetched" in note and "of" in note for note in summary.notes)
    assert server.logins == 2  # the dry run and the run


def test_an_expired_session_logs_in_again_and_a_401_after_login_is_explained(vps, tmp_path, login_env):
    vps_raw, local_tree, _ = vps
    raw = remote_raw(vps_raw, tmp_path)
    with cityscapes_server(vps_raw / SEQ) as server:
        login_env(server)
        server.faults.expire_sessions_after = 3
        summary = api.prepare("cityscapes-vps", raw, tmp_path / "data", jobs=2, quiet=True, remote=["cityscapes"])
        assert summary.ok, summary.failures
        assert server.logins == 2
        assert state_free(tree_bytes(tmp_path / "data")) == local_tree
        server.faults.refuse_after_login = True
        with pytest.raises(remote.LoginRequired, match="HTTP 401 even after a new login"):
            api.prepare("cityscapes-vps", raw, tmp_path / "data2", jobs=2, quiet=True, remote=["cityscapes"])


def test_bad_credentials_and_no_credentials_are_explained(vps, tmp_path, login_env, monkeypatch):
    vps_raw, _, _ = vps
    raw = remote_raw(vps_raw, tmp_path)
    with cityscapes_server(vps_raw / SEQ) as server:
        login_env(server, password="wrong")
        with pytest.raises(remote.LoginRequired, match="refused the login of 'ann'.*CITYSCAPES_PASSWORD"):
            api.prepare("cityscapes-vps", raw, tmp_path / "data", quiet=True, remote=["cityscapes"])
        monkeypatch.delenv("CITYSCAPES_USERNAME")
        monkeypatch.setattr(homes, "_stored_credentials_path", lambda: tmp_path / "none.json")
        with pytest.raises(remote.LoginRequired, match="needs your account"):
            api.prepare("cityscapes-vps", raw, tmp_path / "data", quiet=True, remote=["cityscapes"])
        assert server.served["/files/seq.zip"] == 0


def test_a_local_copy_wins_over_the_remote_home(vps, tmp_path, login_env):
    vps_raw, local_tree, _ = vps
    with cityscapes_server(vps_raw / SEQ) as server:
        login_env(server)
        assert api.prepare("cityscapes-vps", vps_raw, tmp_path / "data", jobs=2, quiet=True, remote=["cityscapes"]).ok
        assert server.requests == 0
    assert state_free(tree_bytes(tmp_path / "data")) == local_tree


def test_a_killed_remote_prepare_resumes_without_fetching_again(vps, tmp_path, login_env):
    vps_raw, local_tree, needed = vps
    raw = remote_raw(vps_raw, tmp_path)
    data = tmp_path / "data"
    with cityscapes_server(vps_raw / SEQ) as server:
        login_env(server)
        cmd = [sys.executable, "-m", "segprep", "prepare", "cityscapes-vps", "--raw", str(raw), "--data", str(data),
               "--remote", "cityscapes", "--jobs", "2", "--quiet"]
        val_files = sum(1 for name in local_tree if name.startswith("cityscapes_vps/val/"))
        done = kill_part_way(cmd, data / "cityscapes_vps" / "val", files=val_files * 3 // 4, delay_ms=40, timeout=90)
        assert val_files // 2 <= done < val_files
        first = server.served["/files/seq.zip"]
        server.reset_counts()
        summary = api.prepare("cityscapes-vps", raw, data, jobs=2, quiet=True, remote=["cityscapes"])
        assert summary.ok and summary.skipped > 0, summary.failures
        second = server.served["/files/seq.zip"]
    assert state_free(tree_bytes(data)) == local_tree
    floor = floor_bytes(vps_raw / SEQ, needed)
    assert second < floor  # what the killed run finished is not fetched again
    assert first + second < 2 * floor


def test_a_corrupted_remote_member_fails_its_task_only(vps, tmp_path, login_env):
    vps_raw, local_tree, needed = vps
    raw = remote_raw(vps_raw, tmp_path)
    damaged = tmp_path / "seq.zip"
    shutil.copy(vps_raw / SEQ, damaged)
    victim = sorted(needed)[3]
    with zipfile.ZipFile(damaged) as zf:
        info = zf.getinfo(victim)
    with open(damaged, "r+b") as f:
        f.seek(info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 200)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with cityscapes_server(damaged) as server:
        login_env(server)
        summary = api.prepare("cityscapes-vps", raw, tmp_path / "data", jobs=2, quiet=True, remote=["cityscapes"])
    assert len(summary.failures) == 1
    assert victim in summary.failures[0].error
    assert summary.written == summary.planned - 1


def test_the_cli_takes_remote_and_raw_urls(vps, tmp_path, login_env):
    vps_raw, local_tree, _ = vps
    raw = remote_raw(vps_raw, tmp_path)
    with cityscapes_server(vps_raw / SEQ) as server:
        login_env(server)
        out = subprocess.run([sys.executable, "-m", "segprep", "prepare", "cityscapes-vps", "--raw", str(raw),
                              "--data", str(tmp_path / "data"), "--remote", "cityscapes", "--dry-run"],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "remote: will fetch" in out.stdout and "packageID=14" in out.stdout


# ---------------------------------------------------------------------- KITTI: --remote kitti (public)


def test_semkitti_dvps_reads_the_odometry_zip_in_place(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    api.sample("semkitti-dvps", raw, jobs=1)
    assert api.prepare("semkitti-dvps", raw, tmp_path / "local", jobs=1, quiet=True).ok
    needed = needed_members("semkitti-dvps", raw, "data_odometry_color.zip")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    shutil.copy(raw / "video_sequence.zip", downloads)
    with RangeServer({"/avg-kitti/data_odometry_color.zip": str(raw / "data_odometry_color.zip")}) as server:
        monkeypatch.setenv(homes.HOST_ENV.format("KITTI"), server.url)
        summary = api.prepare("semkitti-dvps", downloads, tmp_path / "data", jobs=1, quiet=True, remote=["kitti"])
        assert summary.ok, summary.failures
        served = server.served["/avg-kitti/data_odometry_color.zip"]
    assert state_free(tree_bytes(tmp_path / "data")) == state_free(tree_bytes(tmp_path / "local"))
    floor = floor_bytes(raw / "data_odometry_color.zip", needed)
    assert floor <= served <= floor * 1.03 + remote.TAIL


# ---------------------------------------------------------------------- object store: --raw memory://


class CountingMemoryFS(MemoryFileSystem):
    """fsspec's memory filesystem that counts the bytes it serves (the object store of these tests)."""

    protocol = ("countmem",)
    served = 0

    @classmethod
    def _strip_protocol(cls, path):
        prefix = f"{cls.protocol[0]}://"  # this class's, or a subclass's
        if path.startswith(prefix):
            path = path[len(prefix):]
        return MemoryFileSystem._strip_protocol(path)

    def cat_file(self, path, start=None, end=None, **kwargs):
        data = super().cat_file(path, start=start, end=end, **kwargs)
        type(self).served += len(data)
        return data


fsspec.register_implementation("countmem", CountingMemoryFS, clobber=True)


def test_vipseg_from_an_object_store_archive_and_extracted(tmp_path):
    raw = tmp_path / "raw"
    api.sample("vipseg", raw, jobs=1)
    assert api.prepare("vipseg", raw, tmp_path / "local", jobs=1, quiet=True).ok
    local = state_free(tree_bytes(tmp_path / "local"))
    fs = CountingMemoryFS()
    archive = raw / "VIPSeg.zip"
    fs.pipe_file("/bucket/raw/vipseg/VIPSeg.zip", archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:  # the same download, extracted into the bucket
        for info in zf.infolist():
            if not info.is_dir():
                fs.pipe_file(f"/bucket/raw/vipseg-x/{info.filename}", zf.read(info))
    try:
        CountingMemoryFS.served = 0
        assert api.prepare("vipseg", "countmem://bucket/raw/vipseg/", tmp_path / "data", jobs=1, quiet=True).ok
        assert state_free(tree_bytes(tmp_path / "data")) == local
        needed = needed_members("vipseg", raw, "VIPSeg.zip")
        floor = floor_bytes(archive, needed)
        assert floor <= CountingMemoryFS.served <= floor * 1.03 + remote.TAIL
        CountingMemoryFS.served = 0  # a rerun: the same fingerprints (placeholders keep the remote size and date)
        again = api.prepare("vipseg", "countmem://bucket/raw/vipseg/", tmp_path / "data", jobs=1, quiet=True)
        assert again.ok and again.skipped == again.planned
        assert CountingMemoryFS.served <= remote.TAIL + 2 * (archive.stat().st_size - zipfile.ZipFile(archive).start_dir)
        CountingMemoryFS.served = 0
        assert api.prepare("vipseg", "countmem://bucket/raw/vipseg-x/", tmp_path / "data-x", jobs=1, quiet=True).ok
        assert state_free(tree_bytes(tmp_path / "data-x")) == local
    finally:
        fs.rm("/bucket", recursive=True)


def test_raw_file_urls_are_local_paths(tmp_path):
    raw = tmp_path / "raw"
    api.sample("vipseg", raw, jobs=1)
    assert api.prepare("vipseg", raw.as_uri(), tmp_path / "data", jobs=1, quiet=True).ok


def _human(n: float) -> str:
    from segprep.engine.runner import _human as h

    return h(n)


# ---------------------------------------------------------------------- every recipe: --raw URL


@pytest.mark.parametrize("name", sorted(datasets.registry()))
def test_every_dataset_prepares_from_a_bucket_as_from_the_folder(name, tmp_path):
    """Each recipe's sample download copied into an object store (archives read by ranges) gives the tree the
    local folder gives; what is fetched is at most the download's size."""
    raw = tmp_path / "raw"
    api.sample(name, raw, jobs=1)
    assert api.prepare(name, raw, tmp_path / "local", jobs=1, quiet=True).ok
    fs = CountingMemoryFS()
    total = 0
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        fs.pipe_file(f"/bucket/{name}/{path.relative_to(raw).as_posix()}", path.read_bytes())
        total += path.stat().st_size
    try:
        CountingMemoryFS.served = 0
        summary = api.prepare(name, f"countmem://bucket/{name}", tmp_path / "data", jobs=1, quiet=True)
        assert summary.ok, summary.failures
        assert state_free(tree_bytes(tmp_path / "data")) == state_free(tree_bytes(tmp_path / "local"))
        # a tar has no directory: listing one in place reads its headers through the file, then the members
        tars = any(".tar" in p.name for p in raw.rglob("*"))
        assert CountingMemoryFS.served <= total * (2.2 if tars else 1.05) + remote.TAIL
    finally:
        fs.rm(f"/bucket/{name}", recursive=True)


# ---------------------------------------------------------------------- COCO: --remote coco; --raw https://


def test_coco_reads_every_public_archive_in_place(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    api.sample("coco", raw, jobs=1)
    assert api.prepare("coco", raw, tmp_path / "local", jobs=1, quiet=True).ok
    files = {f"/zips/{n}": str(raw / n) for n in ("train2017.zip", "val2017.zip")}
    files |= {f"/annotations/{n}": str(raw / n) for n in ("annotations_trainval2017.zip",
                                                          "panoptic_annotations_trainval2017.zip")}
    empty = tmp_path / "downloads"
    empty.mkdir()
    with RangeServer(files) as server:
        monkeypatch.setenv(homes.HOST_ENV.format("COCO"), server.url)
        summary = api.prepare("coco", empty, tmp_path / "data", jobs=1, quiet=True, remote=["coco"])
        assert summary.ok, summary.failures
        served = server.bytes_served
    assert state_free(tree_bytes(tmp_path / "data")) == state_free(tree_bytes(tmp_path / "local"))
    assert served <= sum(p.stat().st_size for p in raw.iterdir()) * 1.05 + 4 * remote.TAIL


def test_raw_https_url_looks_up_the_download_names(tmp_path):
    raw = tmp_path / "raw"
    api.sample("vipseg", raw, jobs=1)
    assert api.prepare("vipseg", raw, tmp_path / "local", jobs=1, quiet=True).ok
    with RangeServer({"/raw/vipseg/VIPSeg.zip": str(raw / "VIPSeg.zip")}) as server:
        summary = api.prepare("vipseg", server.url + "/raw/vipseg/", tmp_path / "data", jobs=1, quiet=True)
        assert summary.ok, summary.failures
        served = server.bytes_served
    assert state_free(tree_bytes(tmp_path / "data")) == state_free(tree_bytes(tmp_path / "local"))
    needed = needed_members("vipseg", raw, "VIPSeg.zip")
    floor = floor_bytes(raw / "VIPSeg.zip", needed)
    assert floor <= served <= floor * 1.03 + remote.TAIL


def test_the_index_of_a_remote_raw_is_refused_as_a_raw_folder(tmp_path):
    with RangeServer({"/raw/x.zip": synthetic_zip(members=3)}) as server:
        index = homes.open_raw(server.url + "/raw", tmp_path / "state", ["x.zip"])
    with pytest.raises(Exception, match="index of a remote --raw.*pass that URL"):
        api.prepare("vipseg", index, tmp_path / "data", quiet=True)


class FlakyMemoryFS(CountingMemoryFS):
    """Fails the first ``failures`` range reads with a connection error, as a flaky object store does."""

    protocol = ("flakymem",)
    failures = 0

    def cat_file(self, path, start=None, end=None, **kwargs):
        if type(self).failures > 0:
            type(self).failures -= 1
            raise ConnectionResetError("connection reset by peer")
        return super().cat_file(path, start=start, end=end, **kwargs)


fsspec.register_implementation("flakymem", FlakyMemoryFS, clobber=True)


def test_object_store_errors_are_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(remote.RangeReader, "backoff", 0.01)
    data = synthetic_zip(members=10)
    fs = FlakyMemoryFS()
    fs.pipe_file("/flaky/raw/x.zip", data)
    try:
        index = homes.open_raw("flakymem://flaky/raw", tmp_path / "state")
        archive = Archive((str(index / "x.zip"),), "zip")
        members = list_members(archive)
        FlakyMemoryFS.failures = 3
        got = fetch_remote([MemberSource(archive, m) for m in members])
        assert remote.reader(archive.parts[0]).stats.retries == 3
        FlakyMemoryFS.failures = 100
        failed = fetch_remote([MemberSource(archive, members[0])])
    finally:
        FlakyMemoryFS.failures = 0
        fs.rm("/flaky", recursive=True)
    reference = zipfile.ZipFile(io.BytesIO(data))
    assert all(got[f"x.zip:{m.name}"] == reference.read(m.name) for m in members)
    error = failed[f"x.zip:{members[0].name}"]
    assert isinstance(error, remote.RemoteError) and "flakymem://" in str(error) and "rerun" in str(error)


def test_a_zip64_archive_with_a_large_directory_is_listed_in_two_requests(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # more members than a zip32 directory can count: a zip64 end record
        for i in range(66_000):
            zf.writestr(f"f/{i:05d}", b"%d" % i)
        with zf.open("big/member.bin", "w", force_zip64=True) as f:  # zip64 extra fields in its headers
            f.write(bytes(range(256)) * 400)
    data = buf.getvalue()
    with RangeServer({"/a/x.zip": data}) as server:
        archive = _open_http(server, tmp_path)
        members = list_members(archive)
        assert len(members) == 66_001 and server.requests == 2  # the tail, then the rest of the directory
        wanted = [MemberSource(archive, m) for m in (members[0], members[40_000], members[-1])]
        got = fetch_remote(wanted)
    assert [got[s.describe()] for s in wanted] == [b"0", b"40000", bytes(range(256)) * 400]


def test_list_and_prepare_all_take_a_bucket_url(tmp_path, capsys):
    from segprep.cli import main

    raw = tmp_path / "raw"
    api.sample("vipseg", raw / "vipseg", jobs=1)
    fs = CountingMemoryFS()
    fs.pipe_file("/all/raw/vipseg/VIPSeg.zip", (raw / "vipseg" / "VIPSeg.zip").read_bytes())
    try:
        assert main(["list", "--raw", "countmem://all/raw"]) == 0
        assert "ready to prepare: vipseg" in capsys.readouterr().out
        assert main(["prepare", "all", "--raw", "countmem://all/raw", "--data", str(tmp_path / "data"), "--jobs", "1",
                     "--quiet"]) == 0
        assert re.search(r"vipseg\s+prepared", capsys.readouterr().out)
    finally:
        fs.rm("/all", recursive=True)
    assert api.prepare("vipseg", raw / "vipseg", tmp_path / "local", jobs=1, quiet=True).ok
    assert state_free(tree_bytes(tmp_path / "data")) == state_free(tree_bytes(tmp_path / "local"))


def test_the_recipes_declare_what_each_home_serves():
    served = {name: sorted(make().files()) for name, make in homes.homes().items()}
    assert served == {
        "cityscapes": ["gtFine_trainvaltest.zip", "leftImg8bit_sequence_trainvaltest.zip", "leftImg8bit_trainvaltest.zip"],
        "coco": ["annotations_trainval2017.zip", "panoptic_annotations_trainval2017.zip", "train2017.zip",
                 "val2017.zip"],
        "kitti": ["data_odometry_color.zip", "data_tracking_image_2.zip"],
    }
    assert "--remote cityscapes" in datasets.get("cityscapes-vps").download_help()
