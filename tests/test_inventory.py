"""`segprep list --raw` (found / missing / wrong) and `segprep prepare all`."""

import shutil
import zipfile

import pytest

from segprep import api, datasets
from segprep.cli import main
from segprep.datasets.kitti_step import KittiStep
from segprep.errors import SegprepError
from segprep.inventory import inspect


@pytest.fixture(scope="module")
def kitti_raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("inv") / "raw"
    api.sample("kitti-step", raw, options={"frames": 2}, jobs=1)
    return raw


def statuses(raw):
    return {f.download.filename: f.status for f in inspect(KittiStep(), raw)}


def test_archives_found_and_missing(kitti_raw, tmp_path):
    assert statuses(kitti_raw) == {"data_tracking_image_2.zip": "found", "kitti-step.tar.gz": "found"}
    shutil.copy(kitti_raw / "kitti-step.tar.gz", tmp_path)
    found = {f.download.filename: f for f in inspect(KittiStep(), tmp_path)}
    assert found["data_tracking_image_2.zip"].status == "missing"
    assert "cvlibs.net" in found["data_tracking_image_2.zip"].detail


def test_extracted_folders_count_as_found(kitti_raw, tmp_path):
    with zipfile.ZipFile(kitti_raw / "data_tracking_image_2.zip") as zf:
        zf.extractall(tmp_path)
    shutil.copy(kitti_raw / "kitti-step.tar.gz", tmp_path)
    assert statuses(tmp_path) == {"data_tracking_image_2.zip": "found", "kitti-step.tar.gz": "found"}


def test_truncated_archives_and_missing_parts_are_wrong(kitti_raw, tmp_path):
    for name in ("data_tracking_image_2.zip", "kitti-step.tar.gz"):
        data = (kitti_raw / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
    assert statuses(tmp_path) == {"data_tracking_image_2.zip": "wrong", "kitti-step.tar.gz": "wrong"}
    split = tmp_path / "split"
    split.mkdir()
    data = (kitti_raw / "kitti-step.tar.gz").read_bytes()
    (split / "kitti-step.tar.gz_aa").write_bytes(data[:100])
    (split / "kitti-step.tar.gz_ac").write_bytes(data[200:])
    found = {f.download.filename: f for f in inspect(KittiStep(), split)}
    assert found["kitti-step.tar.gz"].status == "wrong" and "'ab' is missing" in found["kitti-step.tar.gz"].detail


def test_list_command_prints_status_per_download(kitti_raw, capsys):
    assert main(["list", "--raw", str(kitti_raw)]) == 0
    out = capsys.readouterr().out
    assert "[ found ] data_tracking_image_2.zip" in out and "ready to prepare: kitti-step" in out


class Broken(KittiStep):
    NAME = "broken-set"
    FOLDER = "broken"

    def plan(self, raw, out_root, options):
        raise SegprepError("this one fails on purpose")


class Absent(KittiStep):
    NAME = "absent-set"
    FOLDER = "absent"


def test_prepare_all_goes_on_after_a_failure_and_skips_incomplete_downloads(kitti_raw, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(kitti_raw, raw / "kitti-step")  # RAW/<name> is where a dataset's downloads may be
    shutil.copytree(kitti_raw, raw / "broken-set")
    registry = {"absent-set": Absent, "broken-set": Broken, "kitti-step": KittiStep}
    monkeypatch.setattr(datasets, "registry", lambda: registry)
    outcomes = {o.name: o for o in api.prepare_all(raw, tmp_path / "data", jobs=1, quiet=True)}
    assert outcomes["absent-set"].status == "skipped" and "missing" in outcomes["absent-set"].detail
    assert outcomes["broken-set"].status == "failed" and "on purpose" in outcomes["broken-set"].detail
    assert outcomes["kitti-step"].status == "prepared"
    assert (tmp_path / "data/kitti-step/video_sequence/train").is_dir()


def test_a_youtube_vos_zip_given_to_youtube_vis_gets_one_row_and_one_verdict(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "train.zip", "w") as zf:
        zf.writestr("train/meta.json", '{"videos": {"abc": {"objects": {}}}}')
        zf.writestr("train/Annotations/abc/00000.png", b"")
        zf.writestr("train/JPEGImages/abc/00000.jpg", b"")
    assert main(["list", "--raw", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    section = text.split("youtube-vis-2021:")[1]
    rows = [line for line in section.splitlines() if "train.zip" in line]
    assert len(rows) == 1, rows
    assert "[ wrong ]" in rows[0] and "YouTube-VOS" in rows[0]


def test_prepare_all_with_nothing_complete_could_not_start(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    assert main(["prepare", "all", "--raw", str(tmp_path / "raw"), "--data", str(tmp_path / "data"), "--quiet"]) == 2
    assert "nothing to prepare" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
