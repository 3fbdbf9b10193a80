"""Cityscapes-DVPS end to end: sample -> prepare -> verify, against the DVPS fork's algorithm, PolyphonicFormer's
loader, and faults."""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cityscapes_vps_oracle import official_labels
from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.errors import MissingInput
from segprep.samples.archives import write_zip
from segprep.datasets._shared.cityscapes_vps_sample import LABELLED_T, dvps_sequences, make_videos

ALL = make_videos({"train": 2, "val": 2, "test": 1})
SEQUENCES = dvps_sequences(ALL)
ZIPS = ("cityscapes-vps-dataset-1.0.zip", "leftImg8bit_sequence_trainvaltest.zip", "gtFine_trainvaltest.zip",
        "video_sequence.zip")


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dvps") / "raw"
    api.sample("cityscapes-dvps", out, jobs=2)
    return out


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dvps") / "extracted"
    for name in ZIPS:
        with zipfile.ZipFile(raw / name) as zf:
            zf.extractall(out)
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("dvps") / "data"
    summary = api.prepare("cityscapes-dvps", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


def frames():
    """(split, DVPS prefix, video, j, t) of every sample frame."""
    for video in ALL:
        if video.split != "test":
            for j, t in enumerate(LABELLED_T):
                yield video.split, f"{SEQUENCES[video.number]:06d}_{j:06d}_{video.stem(t)}", video, j, t


def expected_files() -> set[str]:
    return {f"video_sequence/{split}/{prefix}_{kind}.png" for split, prefix, *_ in frames()
            for kind in ("leftImg8bit", "gtFine_instanceTrainIds", "depth")}


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_archives_give_exactly_the_expected_files_with_unchanged_images_and_depth(raw, prepared):
    root = prepared / "cityscapes-dvps"
    assert set(tree_bytes(root)) == expected_files()
    split, prefix, video, j, t = next(frames())
    with zipfile.ZipFile(raw / "video_sequence.zip") as zf:
        assert (root / f"video_sequence/{split}/{prefix}_depth.png").read_bytes() == zf.read(
            f"video_sequence/{split}/{prefix}_depth.png")
    with zipfile.ZipFile(raw / "leftImg8bit_sequence_trainvaltest.zip") as zf:
        assert (root / f"video_sequence/{split}/{prefix}_leftImg8bit.png").read_bytes() == zf.read(
            f"leftImg8bit_sequence/val/{video.city}/{video.stem(t)}_leftImg8bit.png")
    assert api.verify("cityscapes-dvps", prepared, jobs=2, quiet=True).ok


def test_labels_equal_the_dvps_fork_and_void_stays_void(extracted, prepared):
    root = prepared / "cityscapes-dvps"
    categories = json.loads((extracted / "cityscapes_vps/panoptic_im_val_city_vps.json").read_text())["categories"]
    compared = 0
    for split, prefix, video, j, t in frames():
        if t == 19:
            base = extracted / f"gtFine/val/{video.city}/{video.stem(t)}_gtFine_"
            color, instance = Path(f"{base}color.png"), Path(f"{base}instanceIds.png")
        else:
            base = extracted / f"cityscapes_vps/{split}"
            color = base / f"cls/{video.vps_id(j)}_final_mask.png"
            instance = base / f"inst/{video.vps_id(j)}_original_image_instance_greyscale.png"
        label, panoptic = official_labels(color, instance, categories, fork=True)
        ours = pixels(root / f"video_sequence/{split}/{prefix}_gtFine_instanceTrainIds.png")
        assert ours.dtype == np.uint16 and ours.ndim == 2
        assert np.array_equal(ours.astype(np.uint32), panoptic), prefix
        void = label == 255
        assert void.any() and not (ours[void & (ours < 1000)] == 0).any()  # the fork's numpy bug made this road
        assert ((ours == 0) == ((label == 0) & (ours < 1000))).all()  # 0 is road, only road
        compared += 1
    assert compared == 24


def polyphonic_images(split_dir: Path, with_depth: bool = True) -> list[dict]:
    """HarborYuan/PolyphonicFormer datasets/cityscapes_dvps.py: how it lists and parses the folder."""
    assert "leftImg8bit" not in str(split_dir)
    images = []
    for name in sorted(n for n in os.listdir(split_dir) if "leftImg8bit" in n):
        seq_id, img_id, location, _, _, _ = name.split(sep="_", maxsplit=5)
        full = os.path.join(split_dir, name)
        item = {"seq_id": int(seq_id), "img_id": int(img_id), "location": location, "img": full,
                "depth": full.replace("leftImg8bit", "depth") if with_depth else None,
                "ann": full.replace("leftImg8bit", "gtFine_instanceTrainIds")}
        assert os.path.exists(item["img"]) and os.path.exists(item["ann"])
        assert not with_depth or os.path.exists(item["depth"])
        images.append(item)
    return images


def polyphonic_to_coco(pan_map: np.ndarray) -> np.ndarray:
    """Its to_coco hook: 32000 is void; any other class must be one of the 19; stuff carries instance 0."""
    stuff = set(range(11))
    for idx in np.unique(pan_map).tolist():
        if idx == 32 * 1000:
            continue
        assert idx // 1000 < 19
        if idx // 1000 in stuff:
            assert idx % 1000 == 0
    return pan_map


def test_polyphonicformer_reader_finds_every_frame_and_its_neighbours(prepared):
    for split, count in (("train", 12), ("val", 12)):
        images = polyphonic_images(prepared / "cityscapes-dvps/video_sequence" / split)
        assert len(images) == count
        index = {(i["seq_id"], i["img_id"]) for i in images}
        for item in images:
            assert (item["seq_id"], item["img_id"] + 1) in index or (item["seq_id"], item["img_id"] - 1) in index
            polyphonic_to_coco(pixels(Path(item["ann"])).astype(np.int64))
            depth = np.clip(pixels(Path(item["depth"])).astype(np.float32) / 256.0, 0, 80)
            assert depth.dtype == np.float32 and 0 < depth.max() <= 80 and (depth == 0).any()


def test_extracted_folders_are_hard_linked_and_equal_the_archive_result(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    assert api.prepare("cityscapes-dvps", extracted, tmp_path, jobs=2, quiet=True).ok
    assert tree_bytes(tmp_path / "cityscapes-dvps") == tree_bytes(prepared / "cityscapes-dvps")
    split, prefix, *_ = next(frames())
    assert os.stat(tmp_path / f"cityscapes-dvps/video_sequence/{split}/{prefix}_depth.png").st_ino == os.stat(
        extracted / f"video_sequence/{split}/{prefix}_depth.png").st_ino
    assert tree_bytes(extracted) == before


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "cityscapes-dvps", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    partial = kill_part_way(cmd, data / "cityscapes-dvps", 10, delay_ms=150)
    assert 10 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(data / "cityscapes-dvps") == tree_bytes(prepared / "cityscapes-dvps")


def test_bad_depth_files_fail_their_frame_only_and_are_named(raw, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    for name in ZIPS[:3]:
        os.link(raw / name, src / name)
    (split, truncated, *_), (_, eight_bit, *_) = list(frames())[1:3]
    stranger = "000009_000000_frankfurt_000099_000004_depth.png"  # names a frame Cityscapes-VPS does not have
    members = []
    with zipfile.ZipFile(raw / "video_sequence.zip") as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            data = zf.read(info)
            if info.filename.endswith(f"{truncated}_depth.png"):
                data = data[:1500]
            elif info.filename.endswith(f"{eight_bit}_depth.png"):
                buffer = io.BytesIO()
                Image.fromarray((pixels_from(data) // 256).astype(np.uint8)).save(buffer, format="PNG")
                data = buffer.getvalue()
            members.append((info.filename, data))
    members.append((f"video_sequence/train/{stranger}", members[0][1]))
    write_zip(src / "video_sequence.zip", sorted(members))
    summary = api.prepare("cityscapes-dvps", src, tmp_path / "data", jobs=2, quiet=True)
    failures = {f.key: f.error for f in summary.failures}
    base = "video_sequence/train/000009_000000_frankfurt_000099_000004"
    assert set(failures) == {f"video_sequence/{split}/{truncated}_depth.png", f"video_sequence/{split}/{eight_bit}_depth.png",
                             f"{base}_leftImg8bit.png", f"{base}_gtFine_instanceTrainIds.png"}
    assert "is truncated" in failures[f"video_sequence/{split}/{truncated}_depth.png"]
    assert "found a 8-bit grayscale PNG" in failures[f"video_sequence/{split}/{eight_bit}_depth.png"]
    assert "frankfurt_000099_000004, which panoptic_im_train_city_vps.json does not list" in failures[
        f"{base}_leftImg8bit.png"]
    assert summary.written == len(expected_files()) + 1 - 2  # the stranger's depth file is placed


def pixels_from(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_a_depth_archive_of_another_dataset_is_named_with_what_it_holds(raw, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    for name in ZIPS[:3]:
        os.link(raw / name, src / name)
    write_zip(src / "video_sequence.zip", [("video_sequence/train/000000_000000_gtFine_class.png", b"x")])
    with pytest.raises(MissingInput, match=r"video_sequence\.zip \(holds \['video_sequence/train/000000_000000_"
                                           r"gtFine_class\.png'\]\)"):
        api.prepare("cityscapes-dvps", src, tmp_path / "data", quiet=True)
    from segprep.datasets.cityscapes_dvps import CityscapesDVPS

    assert CityscapesDVPS().inspect_raw(src)[0][0] == "video_sequence.zip"


def test_verify_reports_each_kind_of_damage_by_file(prepared, tmp_path):
    root = tmp_path / "data/cityscapes-dvps"
    shutil.copytree(prepared / "cityscapes-dvps", root)
    (split, a, *_), (_, b, *_), (_, c, *_), (_, d, *_) = list(frames())[:4]
    folder = root / "video_sequence" / split
    Image.fromarray(np.zeros_like(pixels(folder / f"{d}_depth.png"))).save(folder / f"{d}_depth.png")  # no depth at all
    label = np.array(pixels(folder / f"{a}_gtFine_instanceTrainIds.png"))
    label[0, 0] = 19000
    Image.fromarray(label).save(folder / f"{a}_gtFine_instanceTrainIds.png")
    depth = pixels(folder / f"{b}_depth.png")
    Image.fromarray((depth // 256).astype(np.uint8)).save(folder / f"{b}_depth.png")
    (folder / f"{c}_leftImg8bit.png").unlink()  # a missing file, and a gap in its sequence for the loaders
    (folder / "README.txt").write_text("stray")
    failed = {(f.check, f.path) for f in api.verify("cityscapes-dvps", root.parent, jobs=2, quiet=True).findings}
    assert failed == {
        ("values", f"video_sequence/{split}/{a}_gtFine_instanceTrainIds.png"),
        ("decode", f"video_sequence/{split}/{b}_depth.png"),
        ("files", f"video_sequence/{split}/{c}_*"),
        ("layout", f"video_sequence/{split}/README.txt"),
        ("depth", f"video_sequence/{split}/{d}_depth.png"),
    }, failed


def test_verify_official_and_sequence_checks(prepared, tmp_path, capsys):
    assert main(["verify", "cityscapes-dvps", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "frames of train: 12 found, 2,400 published" in out and "sequences of val: 2 found, 50 published" in out
    assert "note: depth:" in out
    root = tmp_path / "data/cityscapes-dvps"
    shutil.copytree(prepared / "cityscapes-dvps", root)
    split, prefix, *_ = list(frames())[2]
    for kind in ("leftImg8bit", "gtFine_instanceTrainIds", "depth"):
        (root / f"video_sequence/{split}/{prefix}_{kind}.png").unlink()
    failed = {(f.check, f.path) for f in api.verify("cityscapes-dvps", root.parent, jobs=2, quiet=True).findings}
    assert failed == {("sequences", f"video_sequence/{split}/{prefix[:6]}_*")}


def test_report_section_counts_and_frames(prepared):
    from segprep.datasets.cityscapes_dvps import CityscapesDVPS
    from segprep.engine.progress import Progress

    section = CityscapesDVPS().report_section(prepared / "cityscapes-dvps", 1, Progress(True))
    assert [(c.split, c.what, c.found, c.published) for c in section.counts] == [
        ("train", "frames", 12, 2400), ("train", "sequences", 2, 400), ("val", "frames", 12, 300),
        ("val", "sequences", 2, 50)]
    assert len(section.frames) == 4 and section.frames[0].void.any()
    assert set(section.frames[0].category_of.values()) <= set(range(19))
