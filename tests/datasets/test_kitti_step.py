"""KITTI-STEP end to end: sample -> prepare (archives, extracted, DeepLab2 layout) -> verify, and faults."""

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.datasets.kitti_step import SEQUENCES as OFFICIAL
from segprep.encodings import step
from segprep.errors import BadInput, MissingInput
from segprep.datasets.kitti_step.sample import SEQUENCES

FRAMES = 5


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kitti") / "raw"
    api.sample("kitti-step", out, options={"frames": FRAMES}, jobs=2)
    return out


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kitti") / "extracted"
    with zipfile.ZipFile(raw / "data_tracking_image_2.zip") as zf:
        zf.extractall(out)
    with tarfile.open(raw / "kitti-step.tar.gz") as tf:
        tf.extractall(out, filter="data")
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("kitti") / "data"
    summary = api.prepare("kitti-step", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


def expected_files() -> set[str]:
    names = set()
    for split, sequences in SEQUENCES.items():
        for seq, _ in sequences:
            for frame in range(FRAMES):
                names.add(f"video_sequence/{split}/{seq:06d}_{frame:06d}_leftImg8bit.png")
                if split != "test":
                    names.add(f"video_sequence/{split}/{seq:06d}_{frame:06d}_panoptic.png")
    return names


def videoknet_pairs(split_dir: Path) -> list[tuple[int, int, str, str]]:
    """What lxtGH/Video-K-Net external/kitti_step_dvps.py does to find its frames."""
    assert "leftImg8bit" not in str(split_dir)
    pairs = []
    for name in sorted(n for n in os.listdir(split_dir) if "leftImg8bit" in n):
        seq_id, img_id, _ = name.split("_", maxsplit=2)
        image = os.path.join(split_dir, name)
        label = image.replace("leftImg8bit", "panoptic")
        assert os.path.exists(image)
        pairs.append((int(seq_id), int(img_id), image, label))
    return pairs


# ---------------------------------------------------------------------------- the happy paths


def test_archives_give_exactly_the_expected_files_with_unchanged_bytes(raw, prepared):
    root = prepared / "kitti-step"
    assert set(tree_bytes(root)) == expected_files()
    with zipfile.ZipFile(raw / "data_tracking_image_2.zip") as zf:
        assert (root / "video_sequence/val/000006_000003_leftImg8bit.png").read_bytes() == zf.read(
            "training/image_02/0006/000003.png")
        assert (root / "video_sequence/test/000003_000004_leftImg8bit.png").read_bytes() == zf.read(
            "testing/image_02/0003/000004.png")
    with tarfile.open(raw / "kitti-step.tar.gz") as tf:
        member = tf.extractfile("kitti-step/panoptic_maps/train/0001/000002.png").read()
    assert (root / "video_sequence/train/000001_000002_panoptic.png").read_bytes() == member
    assert api.verify("kitti-step", prepared, jobs=2, quiet=True).ok


def test_videoknet_reader_finds_every_pair(prepared):
    for split, sequences in SEQUENCES.items():
        pairs = videoknet_pairs(prepared / "kitti-step/video_sequence" / split)
        assert len(pairs) == len(sequences) * FRAMES
        for seq, frame, image, label in pairs:
            assert seq in OFFICIAL[split]
            assert os.path.exists(label) == (split != "test")


def test_sample_maps_keep_instance_ids_across_frames_and_sizes_vary(prepared):
    split_dir = prepared / "kitti-step/video_sequence/val"
    ids = []
    for frame in range(FRAMES):
        rgb = np.asarray(Image.open(split_dir / f"000002_{frame:06d}_panoptic.png"))
        semantic, instance = step.decode(rgb)
        ids.append(set(np.unique(instance[semantic == 13]).tolist()) - {0})
    assert ids[0] & ids[-1]  # the same cars in the first and last frame
    assert any(i > 255 for frame_ids in ids for i in frame_ids)  # G (instance // 256) is exercised
    sizes = {Image.open(p).size for p in split_dir.glob("*_leftImg8bit.png")}
    assert sizes == {(1242, 375), (1224, 370)}


def test_extracted_folders_are_hard_linked_and_equal_the_archive_result(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    summary = api.prepare("kitti-step", extracted, tmp_path, jobs=2, quiet=True)
    assert summary.ok
    assert tree_bytes(tmp_path / "kitti-step") == tree_bytes(prepared / "kitti-step")
    assert os.stat(tmp_path / "kitti-step/video_sequence/train/000000_000000_leftImg8bit.png").st_ino == os.stat(
        extracted / "training/image_02/0000/000000.png").st_ino
    assert tree_bytes(extracted) == before  # the raw download is untouched


@pytest.mark.parametrize("layout", ["deeplab2", "videoknet"])
def test_rearranged_layouts_are_accepted(extracted, prepared, tmp_path, layout):
    src = tmp_path / "raw"
    if layout == "deeplab2":  # images/{train,val,test}/{seq}/ and panoptic_maps/{train,val}/{seq}/
        for split, sequences in SEQUENCES.items():
            for seq, _ in sequences:
                folder = "testing" if split == "test" else "training"
                shutil.copytree(extracted / f"{folder}/image_02/{seq:04d}", src / f"images/{split}/{seq:04d}")
        shutil.copytree(extracted / "kitti-step/panoptic_maps", src / "panoptic_maps")
    else:  # Video K-Net's merged training/panoptic/{seq}/
        shutil.copytree(extracted / "training", src / "training")
        shutil.copytree(extracted / "testing", src / "testing")
        for split in ("train", "val"):
            for seq_dir in (extracted / "kitti-step/panoptic_maps" / split).iterdir():
                shutil.copytree(seq_dir, src / "training/panoptic" / seq_dir.name)
    summary = api.prepare("kitti-step", src, tmp_path / "data", jobs=1, quiet=True)
    assert summary.ok
    assert tree_bytes(tmp_path / "data/kitti-step") == tree_bytes(prepared / "kitti-step")


def test_a_rerun_skips_everything(raw, prepared):
    summary = api.prepare("kitti-step", raw, prepared, jobs=2, quiet=True)
    assert (summary.written, summary.skipped) == (0, len(expected_files()))


def test_move_consumes_the_extracted_files_only_after_success(extracted, prepared, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    summary = api.prepare("kitti-step", src, tmp_path / "data", placement="move", jobs=2, quiet=True)
    assert summary.ok and summary.consumed == len(expected_files())
    assert not [f for _, _, files in os.walk(src) for f in files]
    assert tree_bytes(tmp_path / "data/kitti-step") == tree_bytes(prepared / "kitti-step")


def test_splits_option_and_dry_run(raw, tmp_path, capsys):
    assert main(["prepare", "kitti-step", "--raw", str(raw), "--data", str(tmp_path), "--dry-run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "train panoptic maps" in out and "disk: writes" in out and "kitti-step.tar.gz" in out
    assert not (tmp_path / "kitti-step").exists()
    summary = api.prepare("kitti-step", raw, tmp_path, options={"splits": "test"}, jobs=1, quiet=True)
    assert summary.ok and set(os.listdir(tmp_path / "kitti-step/video_sequence")) == {"test"}


# ---------------------------------------------------------------------------- faults


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "kitti-step", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    kill_part_way(cmd, data / "kitti-step/video_sequence", files=10, delay_ms=150)
    partial = sum(1 for name in tree_bytes(data / "kitti-step") if ".segprep-tmp" not in name)
    assert 10 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(data / "kitti-step") == tree_bytes(prepared / "kitti-step")


def test_a_truncated_png_is_named_and_every_other_frame_is_written(extracted, tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    victim = src / "training/image_02/0001/000002.png"
    victim.write_bytes(victim.read_bytes()[:5000])
    before = tree_bytes(src)
    code = main(["prepare", "kitti-step", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{victim} is truncated" in out
    written = set(tree_bytes(tmp_path / "data/kitti-step"))
    assert written == expected_files() - {"video_sequence/train/000001_000002_leftImg8bit.png"}
    assert tree_bytes(src) == before


def test_a_truncated_member_of_the_archive_is_named(raw, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    shutil.copy(raw / "kitti-step.tar.gz", src)
    with zipfile.ZipFile(raw / "data_tracking_image_2.zip") as zin, \
            zipfile.ZipFile(src / "data_tracking_image_2.zip", "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "testing/image_02/0003/000001.png":
                data = data[:3000]
            zout.writestr(info, data)
    summary = api.prepare("kitti-step", src, tmp_path / "data", jobs=2, quiet=True)
    assert [f.key for f in summary.failures] == ["video_sequence/test/000003_000001_leftImg8bit.png"]
    assert "data_tracking_image_2.zip:testing/image_02/0003/000001.png is truncated" in summary.failures[0].error
    assert summary.written == len(expected_files()) - 1


def test_missing_downloads_say_what_and_where(raw, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInput, match=r"data_tracking_image_2\.zip.*cvlibs"):
        api.prepare("kitti-step", tmp_path / "empty", tmp_path / "data", quiet=True)
    only_images = tmp_path / "only_images"
    only_images.mkdir()
    shutil.copy(raw / "data_tracking_image_2.zip", only_images)
    with pytest.raises(MissingInput, match=r"kitti-step\.tar\.gz.*storage\.googleapis"):
        api.prepare("kitti-step", only_images, tmp_path / "data", quiet=True)
    # the test split needs no maps
    assert api.prepare("kitti-step", only_images, tmp_path / "data", options={"splits": "test"}, quiet=True).ok


def test_a_map_missing_for_one_frame_fails_that_frame_only(extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    (src / "kitti-step/panoptic_maps/val/0006/000004.png").unlink()
    summary = api.prepare("kitti-step", src, tmp_path / "data", jobs=1, quiet=True)
    assert [f.key for f in summary.failures] == ["video_sequence/val/000006_000004_panoptic.png"]
    assert "panoptic_maps/val/0006/000004.png" in summary.failures[0].error
    assert (tmp_path / "data/kitti-step/video_sequence/val/000006_000004_leftImg8bit.png").exists()


def test_a_sequence_filed_under_the_wrong_split_is_refused(extracted, tmp_path):
    shutil.copytree(extracted / "training/image_02/0002", tmp_path / "raw/images/train/0002")
    with pytest.raises(BadInput, match="sequence 0002 is filed under 'train'"):
        api.prepare("kitti-step", tmp_path / "raw", tmp_path / "data", quiet=True)


def test_a_hostile_archive_is_refused_with_the_member_named(raw, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    shutil.copy(raw / "data_tracking_image_2.zip", src)
    with tarfile.open(src / "kitti-step.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("kitti-step/panoptic_maps/train/0000/../../../../../etc/cron.d/x")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BadInput, match=r"etc/cron\.d/x"):
        api.prepare("kitti-step", src, tmp_path / "data", quiet=True)
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------- verify finds problems


def test_verify_reports_each_kind_of_damage_by_file(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared / "kitti-step", data / "kitti-step")
    split_dir = data / "kitti-step/video_sequence/train"
    (split_dir / "000000_000002_leftImg8bit.png").unlink()  # a gap, and an unpaired map
    (split_dir / "notes.txt").write_text("stray")
    rgb = np.array(Image.open(split_dir / "000001_000000_panoptic.png"))
    rgb[0, 0] = (42, 0, 0)  # unknown class
    rgb[1, 1] = (0, 0, 5)  # instance id on road
    Image.fromarray(rgb).save(split_dir / "000001_000000_panoptic.png")
    other = np.array(Image.open(split_dir / "000001_000001_panoptic.png"))
    Image.fromarray(other[:-1]).save(split_dir / "000001_000001_panoptic.png")  # wrong size
    truncated = split_dir / "000001_000003_leftImg8bit.png"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    report = api.verify("kitti-step", data, jobs=2, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    assert ("pairs", "video_sequence/train/000000_000002_leftImg8bit.png") in failed
    assert ("contiguous frames", "video_sequence/train/000000_*") in failed
    assert ("layout", "video_sequence/train/notes.txt") in failed
    assert ("values", "video_sequence/train/000001_000000_panoptic.png") in failed
    assert ("instances", "video_sequence/train/000001_000000_panoptic.png") in failed
    assert ("same size", "video_sequence/train/000001_000001_panoptic.png") in failed
    assert ("decode", "video_sequence/train/000001_000003_leftImg8bit.png") in failed
    assert len(failed) == 7
    assert main(["verify", "kitti-step", "--data", str(data), "--quiet"]) == 1


def test_verify_official_compares_with_the_published_counts(prepared, capsys):
    assert main(["verify", "kitti-step", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "train: 10 found, 5,027 published" in out
    assert "sequences missing [3, 4, 5, 9, 11, 12, 15, 17, 19, 20]" in out
