"""SemKITTI-DVPS end to end: sample -> prepare -> verify, Video K-Net's loader, and faults."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.errors import BadInput
from segprep.samples.archives import write_zip
from segprep.datasets.semkitti_dvps.sample import camera, focal_text

FRAMES = 2


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("semkitti") / "raw"
    api.sample("semkitti-dvps", out, options={"frames": FRAMES}, jobs=2)
    return out


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    """The layout ViP-DeepLab's README asks for: kitti/sequences/{seq}/image_2/ and video_sequence/."""
    out = tmp_path_factory.mktemp("semkitti") / "extracted"
    with zipfile.ZipFile(raw / "video_sequence.zip") as zf:
        zf.extractall(out)
    with zipfile.ZipFile(raw / "data_odometry_color.zip") as zf:
        zf.extractall(out / "odometry")
    (out / "kitti").mkdir()
    shutil.move(out / "odometry/dataset/sequences", out / "kitti/sequences")
    shutil.rmtree(out / "odometry")
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("semkitti") / "data"
    summary = api.prepare("semkitti-dvps", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


def split_of(seq: int) -> str:
    return "val" if seq == 8 else "train"


def expected_files() -> set[str]:
    names = set()
    for seq in range(11):
        for frame in range(FRAMES):
            stem = f"video_sequence/{split_of(seq)}/{seq:06d}_{frame:06d}"
            names |= {f"{stem}_leftImg8bit.png", f"{stem}_gtFine_class.png", f"{stem}_gtFine_instance.png",
                      f"{stem}_depth_{focal_text(camera(seq)[1])}.png"}
    return names


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def videoknet_images(split_dir: Path) -> list[dict]:
    """lxtGH/Video-K-Net external/semkitti_dvps.py (KITTIDVPSDataset): how it lists and parses the folder."""
    assert "leftImg8bit" not in str(split_dir)
    filenames = os.listdir(split_dir)
    depth_names = sorted(n for n in filenames if "depth" in n) or sorted(n for n in filenames if "leftImg8bit" in n)
    images = []
    for item in depth_names:
        seq_id, img_id, _ = item.split(sep="_", maxsplit=2)
        images.append({"seq_id": int(seq_id), "img_id": int(img_id),
                       "img": os.path.join(split_dir, f"{seq_id}_{img_id}_leftImg8bit.png"),
                       "depth": os.path.join(split_dir, item),
                       "ann_class": os.path.join(split_dir, f"{seq_id}_{img_id}_gtFine_class.png"),
                       "ann_inst": os.path.join(split_dir, f"{seq_id}_{img_id}_gtFine_instance.png")})
        for key in ("img", "depth", "ann_class", "ann_inst"):
            assert os.path.exists(images[-1][key])
    return images


def test_archives_give_exactly_the_expected_files_with_unchanged_bytes(raw, prepared):
    root = prepared / "semkitti-dvps"
    assert set(tree_bytes(root)) == expected_files()
    with zipfile.ZipFile(raw / "data_odometry_color.zip") as zf:
        assert (root / "video_sequence/val/000008_000001_leftImg8bit.png").read_bytes() == zf.read(
            "dataset/sequences/08/image_2/000001.png")
    name = f"000003_000000_depth_{focal_text(721.5377)}.png"
    assert name == "000003_000000_depth_721.5377197265625.png"
    with zipfile.ZipFile(raw / "video_sequence.zip") as zf:
        assert (root / f"video_sequence/train/{name}").read_bytes() == zf.read(f"video_sequence/train/{name}")
    assert api.verify("semkitti-dvps", prepared, jobs=2, quiet=True).ok


def test_videoknet_reader_finds_every_frame_its_neighbours_and_labels(prepared):
    for split, sequences in (("train", [s for s in range(11) if s != 8]), ("val", [8])):
        images = videoknet_images(prepared / "semkitti-dvps/video_sequence" / split)
        assert len(images) == len(sequences) * FRAMES
        index = {(i["seq_id"], i["img_id"]) for i in images}
        assert {s for s, _ in index} == set(sequences)
        for item in images:
            assert (item["seq_id"], item["img_id"] + 1) in index or (item["seq_id"], item["img_id"] - 1) in index
            classes = pixels(item["ann_class"]).astype(np.int32)
            instances = pixels(item["ann_inst"]).astype(np.int32)
            panoptic = classes * 10000 + instances  # the loader's panoptic id
            assert set(np.unique(panoptic // 10000).tolist()) <= set(range(19)) | {255}
            assert (instances[classes >= 8] == 0).all() and (instances[classes < 8] > 0).any()
            depth = pixels(item["depth"]).astype(np.float32) / 256.0
            assert depth.shape == classes.shape == pixels(item["img"]).shape[:2]
            assert (depth[classes == 255] == 0).all() and depth.max() > 1


def test_extracted_layout_is_hard_linked_and_equal_the_archive_result(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    assert api.prepare("semkitti-dvps", extracted, tmp_path, jobs=2, quiet=True).ok
    assert tree_bytes(tmp_path / "semkitti-dvps") == tree_bytes(prepared / "semkitti-dvps")
    assert os.stat(tmp_path / "semkitti-dvps/video_sequence/train/000005_000001_leftImg8bit.png").st_ino == os.stat(
        extracted / "kitti/sequences/05/image_2/000001.png").st_ino
    assert tree_bytes(extracted) == before


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "semkitti-dvps", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    partial = kill_part_way(cmd, data / "semkitti-dvps", 10, delay_ms=100)
    assert 10 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(data / "semkitti-dvps") == tree_bytes(prepared / "semkitti-dvps")


def test_truncated_and_missing_inputs_fail_their_file_only_and_are_named(raw, extracted, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    os.link(raw / "video_sequence.zip", src / "video_sequence.zip")
    with zipfile.ZipFile(raw / "data_odometry_color.zip") as zf:
        members = [(i.filename, zf.read(i)[:4000] if i.filename == "dataset/sequences/04/image_2/000001.png" else
                    zf.read(i)) for i in zf.infolist() if not i.is_dir() and i.filename != "dataset/sequences/09/image_2/000000.png"]
    write_zip(src / "data_odometry_color.zip", members)
    summary = api.prepare("semkitti-dvps", src, tmp_path / "data", jobs=2, quiet=True)
    failures = {f.key: f.error for f in summary.failures}
    assert set(failures) == {"video_sequence/train/000004_000001_leftImg8bit.png",
                             "video_sequence/train/000009_000000_leftImg8bit.png"}
    assert "data_odometry_color.zip:dataset/sequences/04/image_2/000001.png is truncated" in failures[
        "video_sequence/train/000004_000001_leftImg8bit.png"]
    assert "expected dataset/sequences/09/image_2/000000.png from data_odometry_color.zip" in failures[
        "video_sequence/train/000009_000000_leftImg8bit.png"]
    assert summary.written == len(expected_files()) - 2


def test_annotations_filed_under_the_wrong_split_are_refused(extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    shutil.move(src / "video_sequence/val/000008_000000_gtFine_class.png", src / "video_sequence/train")
    with pytest.raises(BadInput, match="sequence 08 is filed under 'train'"):
        api.prepare("semkitti-dvps", src, tmp_path / "data", quiet=True)


def test_verify_reports_each_kind_of_damage_by_file(prepared, tmp_path):
    root = tmp_path / "data/semkitti-dvps"
    shutil.copytree(prepared / "semkitti-dvps", root)
    folder = root / "video_sequence/train"
    classes = np.array(pixels(folder / "000000_000000_gtFine_class.png"))
    classes[0, 0] = 30
    Image.fromarray(classes).save(folder / "000000_000000_gtFine_class.png")
    instances = np.array(pixels(folder / "000001_000000_gtFine_instance.png"))
    instances[0, 0] = 12345
    Image.fromarray(instances).save(folder / "000001_000000_gtFine_instance.png")
    depth_name = f"000002_000000_depth_{focal_text(718.856)}.png"
    Image.fromarray((pixels(folder / depth_name) // 256).astype(np.uint8)).save(folder / depth_name)
    (folder / "000004_000001_gtFine_class.png").unlink()
    for name in os.listdir(folder):
        if name.startswith("000005_000000_"):
            (folder / name).unlink()  # a frame missing at the start of sequence 05
    shutil.copy(folder / "000006_000000_leftImg8bit.png", root / "video_sequence/val/000006_000000_leftImg8bit.png")
    failed = {(f.check, f.path) for f in api.verify("semkitti-dvps", root.parent, jobs=2, quiet=True).findings}
    assert failed == {
        ("values", "video_sequence/train/000000_000000_gtFine_class.png"),
        ("values", "video_sequence/train/000001_000000_gtFine_instance.png"),
        ("decode", f"video_sequence/train/{depth_name}"),
        ("files", "video_sequence/train/000004_000001_*"),
        ("sequences", "video_sequence/train/000005_*"),
        ("layout", "video_sequence/val/000006_000000_leftImg8bit.png"),
        ("files", "video_sequence/val/000006_000000_*"),
    }, failed


def test_verify_official_compares_each_sequence_with_kitti_odometry(prepared, capsys):
    assert main(["verify", "semkitti-dvps", "--data", str(prepared), "--official", "--quiet"]) == 1
    assert "2 frames of sequence 08, the KITTI odometry sequence has 4,071" in capsys.readouterr().out
    messages = [f.message for f in api.verify("semkitti-dvps", prepared, official=True, jobs=2, quiet=True).findings]
    assert len(messages) == 11 + 2
    assert "consecutive frame pairs of train: 10 found, 19,120 published (-19,110)" in messages
    assert "consecutive frame pairs of val: 1 found, 4,070 published (-4,069)" in messages


def test_report_section_counts_and_frames(prepared):
    from segprep.datasets.semkitti_dvps import SemKittiDVPS
    from segprep.engine.progress import Progress

    section = SemKittiDVPS().report_section(prepared / "semkitti-dvps", 1, Progress(True))
    assert [(c.split, c.found, c.published) for c in section.counts] == [("train", 20, 19130), ("val", 2, 4071)]
    assert [c.name for c in section.categories[:8]] == ["car", "bicycle", "motorcycle", "truck", "other-vehicle",
                                                         "person", "bicyclist", "motorcyclist"]
    view = section.frames[0]
    assert view.void.mean() > 0.5 and set(view.category_of.values()) <= set(range(19))
