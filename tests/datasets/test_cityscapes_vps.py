"""Cityscapes-VPS end to end: sample -> prepare -> verify, against mcahny/vps's algorithm, Video K-Net's loader, faults."""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cityscapes_vps_oracle import official_labels, official_video_segments
from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.datasets._shared.cityscapes_vps_sources import label_name
from segprep.errors import BadInput, MissingInput
from segprep.samples.archives import write_zip
from segprep.datasets._shared.cityscapes_vps_sample import LABELLED_T, SNIPPET, make_videos

VIDEOS = {"train": 2, "val": 2, "test": 1}
ALL = make_videos(VIDEOS)
RAW_ZIPS = ("cityscapes-vps-dataset-1.0.zip", "leftImg8bit_sequence_trainvaltest.zip", "gtFine_trainvaltest.zip")
JSONS = ("panoptic_im_train_city_vps.json", "panoptic_im_val_city_vps.json", "panoptic_im_test_city_vps.json",
         "instances_train_city_vps_rle.json", "instances_val_city_vps_rle.json", "im_all_info_val_city_vps.json",
         "im_all_info_test_city_vps.json")


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vps") / "raw"
    api.sample("cityscapes-vps", out, options={"videos": "2,2,1"}, jobs=2)
    return out


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vps") / "extracted"
    for name in RAW_ZIPS:
        with zipfile.ZipFile(raw / name) as zf:
            zf.extractall(out)
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("vps") / "data"
    summary = api.prepare("cityscapes-vps", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


def expected_files(splits=("train", "val")) -> set[str]:
    names = set(JSONS)
    if "val" in splits:
        names.add("panoptic_gt_val_city_vps.json")
    for video in ALL:
        if video.split not in splits:
            continue
        for j in range(len(LABELLED_T)):
            names.add(f"{video.split}/img/{video.file_name(j)}")
            if video.split != "test":
                for folder in ("labelmap", "panoptic_inst") + (("panoptic_video",) if video.split == "val" else ()):
                    names.add(f"{video.split}/{folder}/{label_name(video.file_name(j))}")
        if video.split != "train":
            names |= {f"{video.split}/img_all/{video.stem(t)}_leftImg8bit.png" for t in range(SNIPPET)}
    return names


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def labelled_frames(split: str):
    for video in ALL:
        if video.split == split:
            for j, t in enumerate(LABELLED_T):
                yield video, j, t


def source_maps(extracted: Path, video, j: int, t: int) -> tuple[Path, Path]:
    """The colour and instance maps the official scripts pair for a frame (cls/ and inst/ after merge_datasets)."""
    if t == 19:
        base = extracted / f"gtFine/val/{video.city}/{video.stem(t)}_gtFine_"
        return Path(f"{base}color.png"), Path(f"{base}instanceIds.png")
    base = extracted / f"cityscapes_vps/{video.split}"
    return (base / f"cls/{video.vps_id(j)}_final_mask.png",
            base / f"inst/{video.vps_id(j)}_original_image_instance_greyscale.png")


def corrupt_members(path: Path, names) -> None:
    """Overwrites the data of these members with zeros, in place (the central directory stays intact)."""
    with zipfile.ZipFile(path) as zf:
        infos = [zf.getinfo(n) for n in names]
    with open(path, "r+b") as f:
        for info in infos:
            f.seek(info.header_offset)
            header = f.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            f.write(b"\0" * info.compress_size)


def rewrite_zip(src: Path, dst: Path, change) -> None:
    """A copy of a zip with ``change(name, data) -> data | None`` applied to each member (None drops it)."""
    with zipfile.ZipFile(src) as zin:
        members = []
        for info in zin.infolist():
            if info.is_dir():
                continue
            data = change(info.filename, zin.read(info))
            if data is not None:
                members.append((info.filename, data))
    write_zip(dst, members)


# ---------------------------------------------------------------------------- the happy paths


def test_archives_give_exactly_the_expected_files(raw, prepared):
    root = prepared / "cityscapes_vps"
    assert set(tree_bytes(root)) == expected_files()
    with zipfile.ZipFile(raw / "cityscapes-vps-dataset-1.0.zip") as zf:
        for name in JSONS:  # the released jsons, bytes unchanged
            assert (root / name).read_bytes() == zf.read(f"cityscapes_vps/{name}")
    video = next(v for v in ALL if v.split == "train")
    with zipfile.ZipFile(raw / "leftImg8bit_sequence_trainvaltest.zip") as zf:
        member = zf.read(f"leftImg8bit_sequence/val/{video.city}/{video.stem(LABELLED_T[0])}_leftImg8bit.png")
    assert (root / f"train/img/{video.file_name(0)}").read_bytes() == member
    assert video.file_name(0).endswith("_newImg8bit.png") and video.file_name(3).endswith("_leftImg8bit.png")
    assert api.verify("cityscapes-vps", prepared, jobs=2, quiet=True).ok


def test_labelmap_and_panoptic_inst_equal_create_panoptic_labels(extracted, prepared):
    root = prepared / "cityscapes_vps"
    categories = json.loads((root / "panoptic_im_val_city_vps.json").read_text())["categories"]
    compared = 0
    for split in ("train", "val"):
        for video, j, t in labelled_frames(split):
            label, panoptic = official_labels(*source_maps(extracted, video, j, t), categories)
            name = label_name(video.file_name(j))
            ours_label, ours_panoptic = pixels(root / f"{split}/labelmap/{name}"), pixels(root / f"{split}/panoptic_inst/{name}")
            assert ours_label.dtype == np.uint8 and ours_panoptic.dtype == np.uint16
            assert np.array_equal(ours_label, label), name
            assert np.array_equal(ours_panoptic.astype(np.uint32), panoptic), name
            compared += 1
    assert compared == 24


def test_the_hard_cases_come_out_as_the_official_rules_say(extracted, prepared):
    root = prepared / "cityscapes_vps"
    seen = dict.fromkeys(("k=0", "crowd", "caravan", "rider", "widened", "gt person"), False)
    for split in ("train", "val"):
        for video, j, t in labelled_frames(split):
            name = label_name(video.file_name(j))
            panoptic, label = pixels(root / f"{split}/panoptic_inst/{name}"), pixels(root / f"{split}/labelmap/{name}")
            color_path, instance_path = source_maps(extracted, video, j, t)
            instance, color = pixels(instance_path), pixels(color_path)
            seen["k=0"] |= bool((panoptic == 13000).any())  # instance k = 0 of a car: trainId*1000 + 0
            crowd = (instance == 26) & (label == 13)  # the car group: a car in labelmap, void in panoptic_inst
            assert (panoptic[crowd] == 255).all()
            seen["crowd"] |= bool(crowd.any())
            caravan = instance // 1000 == 29  # an instance of a void class stays void
            assert (panoptic[caravan] == 255).all() and (label[caravan] == 255).all()
            seen["caravan"] |= bool(caravan.any())
            rider = (instance // 1000 == 24) & (color[..., 0] == 255) & (color[..., 1] == 0)  # person painted as rider
            assert (panoptic[rider] // 1000 == 12).all() and (label[rider] == 12).all()
            seen["rider"] |= bool(rider.any())
            seen["widened"] |= bool(((panoptic // 1000 == 13) & (label == 0)).any())  # road pixels of a car instance
            if t == 19:  # the gtFine frame: the same object is a person there
                seen["gt person"] |= bool(((instance // 1000 == 24) & (panoptic // 1000 == 11)).any())
    assert all(seen.values()), seen


def test_video_json_and_pngs_follow_create_panoptic_video_labels_with_stable_ids(prepared):
    root = prepared / "cityscapes_vps"
    document = json.loads((root / "panoptic_gt_val_city_vps.json").read_text())
    assert list(document) == ["images", "annotations", "categories"]
    assert (root / "panoptic_gt_val_city_vps.json").read_bytes() == json.dumps(document).encode()  # json.dump style
    assert document["categories"] == json.loads((root / "panoptic_im_val_city_vps.json").read_text())["categories"]
    frames = sorted(label_name(v.file_name(j)) for v, j, _ in labelled_frames("val"))
    assert [a["file_name"] for a in document["annotations"]] == frames
    assert [i["id"] for i in document["images"]] == [a["image_id"] for a in document["annotations"]] == [
        f.rsplit("_", 2)[0] for f in frames]
    assert all(i["file_name"] == a["file_name"].replace("final_mask", "newImg8bit").replace("gtFine_color", "leftImg8bit")
               for i, a in zip(document["images"], document["annotations"]))
    tracks: dict[str, dict[int, int]] = {}
    for annotation in document["annotations"]:
        name = annotation["file_name"]
        panoptic = pixels(root / f"val/panoptic_inst/{name}").astype(np.int64)
        rgb = pixels(root / f"val/panoptic_video/{name}").astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        official = official_video_segments(panoptic, document["categories"])
        assert np.array_equal(ids, np.where(np.isin(panoptic, list(official)), panoptic + 1, 0))
        listed = {s["id"]: s for s in annotation["segments_info"]}
        assert [s["id"] for s in annotation["segments_info"]] == sorted(listed)
        assert listed == {value + 1: {"id": value + 1, **segment} for value, segment in official.items()}
        for segment in annotation["segments_info"]:  # one object keeps its id through the video
            tracks.setdefault(name[:4], {}).setdefault(segment["id"], segment["category_id"])
            assert tracks[name[:4]][segment["id"]] == segment["category_id"]
    assert all(len([i for i in ids if i > 11000]) >= 3 for ids in tracks.values())


def videoknet_train_samples(root: Path, split: str, panoptic_json: str) -> list[tuple[str, str, int]]:
    """What lxtGH/Video-K-Net external/cityscapes_vps.py (CityscapesVPSDataset) does with the train config."""
    coco = json.loads((root / f"instances_{split}_city_vps_rle.json").read_text())
    classes = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
    cat_ids = [c["id"] for c in coco["categories"] if c["name"] in classes]  # COCO.get_cat_ids(cat_names=CLASSES)
    panoptic = json.loads((root / panoptic_json).read_text())
    key = "trainid" if panoptic_json.startswith("panoptic_im") else "id"
    assert [k[key] for k in panoptic["categories"] if k["isthing"] == 1] == cat_ids  # the loader's assert
    img_ids = {i["id"] for i in coco["images"]}
    samples = []
    for info in sorted(coco["images"], key=lambda i: i["id"]):
        assert os.path.exists(root / split / "img" / info["file_name"])
        seg_map = info["file_name"].replace("jpg", "png").replace("leftImg8bit", "gtFine_color").replace(
            "newImg8bit", "final_mask")
        assert os.path.exists(root / split / "labelmap" / seg_map)
        references = [info["id"] + m for m in (-1, 1) if info["id"] + m in img_ids]  # offsets=[-1, +1]
        assert references
        samples.append((info["file_name"], seg_map, len(references)))
    return samples


def test_videoknet_loaders_find_everything(prepared):
    root = prepared / "cityscapes_vps"
    assert len(videoknet_train_samples(root, "train", "panoptic_im_train_city_vps.json")) == 12
    # val (CityscapesPanopticDataset, and the trainval config's CityscapesVPSDataset)
    assert len(videoknet_train_samples(root, "val", "panoptic_gt_val_city_vps.json")) == 12
    document = json.loads((root / "panoptic_gt_val_city_vps.json").read_text())
    for annotation in document["annotations"]:
        assert (root / "val/panoptic_video" / annotation["file_name"]).exists()
    dense = json.loads((root / "im_all_info_val_city_vps.json").read_text())["images"]
    assert len(dense) == 60 and all((root / "val/img_all" / i["file_name"]).exists() for i in dense)


def test_sequence_archive_train_and_test_members_are_never_read(raw, prepared, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(raw, src)
    archive = src / "leftImg8bit_sequence_trainvaltest.zip"
    with zipfile.ZipFile(archive) as zf:
        others = [n for n in zf.namelist() if n.startswith(("leftImg8bit_sequence/train/", "leftImg8bit_sequence/test/"))
                  and not n.endswith("/")]
    assert len(others) == 6
    corrupt_members(archive, others)
    with zipfile.ZipFile(archive) as zf, pytest.raises(Exception):
        zf.read(others[0])  # reading any of them now fails: a preparation that read one would fail
    summary = api.prepare("cityscapes-vps", src, tmp_path / "data", jobs=2, quiet=True, options={"splits": "train,val,test"})
    assert summary.ok, summary.failures
    assert tree_bytes(tmp_path / "data/cityscapes_vps").items() >= tree_bytes(prepared / "cityscapes_vps").items()


def test_extracted_folders_are_hard_linked_and_equal_the_archive_result(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    assert api.prepare("cityscapes-vps", extracted, tmp_path, jobs=2, quiet=True).ok
    assert tree_bytes(tmp_path / "cityscapes_vps") == tree_bytes(prepared / "cityscapes_vps")
    video = ALL[0]
    ours = tmp_path / f"cityscapes_vps/{video.split}/img/{video.file_name(0)}"
    theirs = extracted / f"leftImg8bit_sequence/val/{video.city}/{video.stem(LABELLED_T[0])}_leftImg8bit.png"
    assert os.stat(ours).st_ino == os.stat(theirs).st_ino
    assert tree_bytes(extracted) == before


def test_labels_in_nested_split_zips_without_a_root_folder_are_read(raw, prepared, tmp_path):
    """An UNVERIFIED variant of the VPS zip: jsons at the root, the labels in train_gt.zip / val_gt.zip."""
    src = tmp_path / "raw"
    src.mkdir()
    for name in RAW_ZIPS[1:]:
        os.link(raw / name, src / name)
    inner: dict[str, list] = {"train": [], "val": []}
    outer = []
    with zipfile.ZipFile(raw / "cityscapes-vps-dataset-1.0.zip") as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            rel = info.filename[len("cityscapes_vps/"):]
            if rel.endswith(".json"):
                outer.append((rel, zf.read(info)))
            else:
                split, rest = rel.split("/", 1)
                inner[split].append((rest, zf.read(info)))
    for split, members in inner.items():
        buffer = tmp_path / f"{split}_gt.zip"
        write_zip(buffer, members)
        outer.append((f"{split}_gt.zip", buffer.read_bytes()))
    write_zip(src / "cityscapes-vps-dataset-1.0.zip", sorted(outer))  # the inner zips deflated: read in one pass
    summary = api.prepare("cityscapes-vps", src, tmp_path / "data", jobs=2, quiet=True)
    assert summary.ok, summary.failures
    assert tree_bytes(tmp_path / "data/cityscapes_vps") == tree_bytes(prepared / "cityscapes_vps")


def test_a_rerun_skips_everything_and_test_adds_only_images(raw, prepared, tmp_path, capsys):
    summary = api.prepare("cityscapes-vps", raw, prepared, jobs=2, quiet=True)
    assert summary.written == 0 and summary.skipped == summary.planned
    assert main(["prepare", "cityscapes-vps", "--raw", str(raw), "--data", str(tmp_path), "--dry-run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "train labelmap + panoptic_inst" in out and "val img_all" in out and "disk: writes" in out
    assert not (tmp_path / "cityscapes_vps").exists()
    data = tmp_path / "data"
    shutil.copytree(prepared, data, copy_function=os.link)
    summary = api.prepare("cityscapes-vps", raw, data, jobs=2, quiet=True, options={"splits": "train,val,test"})
    assert summary.ok and summary.written == 6 + 30  # test/img and test/img_all
    assert set(tree_bytes(data / "cityscapes_vps")) == expected_files(("train", "val", "test"))
    assert api.verify("cityscapes-vps", data, jobs=2, quiet=True).ok


# ---------------------------------------------------------------------------- faults


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "cityscapes-vps", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    partial = kill_part_way(cmd, data / "cityscapes_vps", 10, delay_ms=150)
    assert 10 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(data / "cityscapes_vps") == tree_bytes(prepared / "cityscapes_vps")


def test_every_bad_frame_is_reported_and_everything_else_written(raw, tmp_path, capsys):
    """The official script swallows worker errors (apply_async without get); here each one is named."""
    src = tmp_path / "raw"
    src.mkdir()
    for name in RAW_ZIPS[1:]:
        os.link(raw / name, src / name)
    train, val = [v for v in ALL if v.split == "train"][1], [v for v in ALL if v.split == "val"][0]
    truncated = f"cityscapes_vps/train/cls/{train.vps_id(1)}_final_mask.png"
    resized = f"cityscapes_vps/val/inst/{val.vps_id(4)}_original_image_instance_greyscale.png"

    def change(name: str, data: bytes) -> bytes:
        if name == truncated:
            return data[:2000]
        if name == resized:
            small = Image.open(io.BytesIO(data)).crop((0, 0, 100, 50))
            out = io.BytesIO()
            small.save(out, format="PNG")
            return out.getvalue()
        return data

    rewrite_zip(raw / "cityscapes-vps-dataset-1.0.zip", src / "cityscapes-vps-dataset-1.0.zip", change)
    code = main(["prepare", "cityscapes-vps", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"cityscapes-vps-dataset-1.0.zip:{truncated} is truncated" in out
    assert "is 512x256 but" in out and "100x50" in out
    lost = set()
    for video, j in ((train, 1), (val, 4)):
        lost |= {f"{video.split}/{folder}/{label_name(video.file_name(j))}"
                 for folder in ("labelmap", "panoptic_inst", "panoptic_video")}
    written = set(tree_bytes(tmp_path / "data/cityscapes_vps"))
    assert written == expected_files() - lost - {"panoptic_gt_val_city_vps.json"}  # the json waits for a clean run
    log = (tmp_path / "data/.segprep/cityscapes-vps/failures.log").read_text()
    assert truncated in log and resized in log


def test_missing_downloads_and_frames_say_what_and_where(raw, extracted, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInput, match=r"(?s)panoptic_im_\*_city_vps\.json.*dropbox"):
        api.prepare("cityscapes-vps", tmp_path / "empty", tmp_path / "data", quiet=True)
    no_gt = tmp_path / "no_gt"
    no_gt.mkdir()
    for name in RAW_ZIPS[:2]:
        os.link(raw / name, no_gt / name)
    with pytest.raises(MissingInput, match=r"gtFine_trainvaltest\.zip"):
        api.prepare("cityscapes-vps", no_gt, tmp_path / "data", quiet=True)
    summary = api.prepare("cityscapes-vps", no_gt, tmp_path / "test-only", jobs=2, quiet=True, options={"splits": "test"})
    assert summary.ok and summary.written == len(JSONS) + 6 + 30  # the released jsons, test/img and test/img_all
    report = api.verify("cityscapes-vps", tmp_path / "test-only", jobs=2, quiet=True)
    assert {(f.check, f.path) for f in report.findings} == {("layout", "train"), ("layout", "val")}  # the rest passes
    src = tmp_path / "partial"
    shutil.copytree(extracted, src)
    video = ALL[0]
    (src / f"gtFine/val/{video.city}/{video.stem(19)}_gtFine_instanceIds.png").unlink()
    (src / f"leftImg8bit_sequence/val/{video.city}/{video.stem(4)}_leftImg8bit.png").unlink()
    summary = api.prepare("cityscapes-vps", src, tmp_path / "data", jobs=2, quiet=True)
    failures = {f.key: f.error for f in summary.failures}
    assert set(failures) == {f"{video.split}/panoptic_inst/{label_name(video.file_name(3))}",
                             f"{video.split}/img/{video.file_name(0)}"}
    assert "gtFine_instanceIds.png from gtFine_trainvaltest.zip" in failures[f"{video.split}/panoptic_inst/"
                                                                              f"{label_name(video.file_name(3))}"]
    assert f"leftImg8bit_sequence/val/{video.city}/{video.stem(4)}_leftImg8bit.png" in failures[
        f"{video.split}/img/{video.file_name(0)}"]


def test_unverified_formats_fail_showing_what_was_found(raw, extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    video = ALL[0]
    instance = src / f"cityscapes_vps/{video.split}/inst/{video.vps_id(0)}_original_image_instance_greyscale.png"
    Image.fromarray((pixels(instance) % 7).astype(np.uint8)).save(instance)  # an 8-bit instance map
    summary = api.prepare("cityscapes-vps", src, tmp_path / "data", jobs=2, quiet=True)
    assert len(summary.failures) == 1
    assert "expected a 16-bit one-channel instance-id PNG" in summary.failures[0].error
    assert "found a 8-bit grayscale PNG with values [0, 1, 2, 3, 4, 5, 6]" in summary.failures[0].error
    document = json.loads((src / "cityscapes_vps/panoptic_im_train_city_vps.json").read_text())
    document["images"][0]["file_name"] = "frankfurt_000000_000004.png"
    (src / "cityscapes_vps/panoptic_im_train_city_vps.json").write_text(json.dumps(document))
    with pytest.raises(BadInput, match=r"panoptic_im_train_city_vps\.json: image entry .*frankfurt_000000_000004\.png"):
        api.prepare("cityscapes-vps", src, tmp_path / "data2", quiet=True)


# ---------------------------------------------------------------------------- verify finds problems


def test_verify_reports_each_kind_of_damage_by_file(prepared, tmp_path):
    root = tmp_path / "data/cityscapes_vps"
    shutil.copytree(prepared / "cityscapes_vps", root)
    train = [v for v in ALL if v.split == "train"][0]
    val = [v for v in ALL if v.split == "val"][0]
    a, b = label_name(train.file_name(0)), label_name(train.file_name(1))
    label = np.array(pixels(root / f"train/labelmap/{a}"))
    label[0, 0] = 77
    Image.fromarray(label).save(root / f"train/labelmap/{a}")
    panoptic = np.array(pixels(root / f"train/panoptic_inst/{b}"))
    panoptic[panoptic == 0] = 1  # road becomes sidewalk where the labelmap says road
    Image.fromarray(panoptic).save(root / f"train/panoptic_inst/{b}")
    c = label_name(val.file_name(2))
    video = np.array(pixels(root / f"val/panoptic_video/{c}"))
    video[10:20, 10:20] = (9, 0, 0)
    Image.fromarray(video).save(root / f"val/panoptic_video/{c}")
    document = json.loads((root / "panoptic_gt_val_city_vps.json").read_text())
    document["annotations"][0]["segments_info"][0]["area"] += 1
    (root / "panoptic_gt_val_city_vps.json").write_text(json.dumps(document))
    instances = json.loads((root / "instances_train_city_vps_rle.json").read_text())
    instances["images"][1]["id"] += 100
    (root / "instances_train_city_vps_rle.json").write_text(json.dumps(instances))
    (root / f"val/img/{val.file_name(5)}").unlink()
    (root / "train/img/notes.txt").write_text("stray")
    truncated = root / f"val/img_all/{val.stem(0)}_leftImg8bit.png"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    failed = {(f.check, f.path) for f in api.verify("cityscapes-vps", root.parent, jobs=2, quiet=True).findings}
    first_val = sorted(label_name(v.file_name(j)) for v, j, _ in labelled_frames("val"))[0]
    assert failed == {
        ("values", f"train/labelmap/{a}"),
        ("agree", f"train/panoptic_inst/{a}"),  # the damaged labelmap no longer agrees with panoptic_inst
        ("agree", f"train/panoptic_inst/{b}"),
        ("panoptic_video", f"val/panoptic_video/{c}"),
        ("video json", f"val/panoptic_video/{first_val}"),
        ("instance json", "instances_train_city_vps_rle.json"),
        ("files", f"val/img/{val.file_name(5)}"),
        ("layout", "train/img/notes.txt"),
        ("decode", f"val/img_all/{val.stem(0)}_leftImg8bit.png"),
    }, failed
    assert main(["verify", "cityscapes-vps", "--data", str(root.parent), "--quiet"]) == 1


def test_verify_official_compares_with_the_published_counts(prepared, capsys):
    assert main(["verify", "cityscapes-vps", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "frames of train: 12 found, 2,400 published" in out and "videos of val: 2 found, 50 published" in out
    assert "frames of test: 6 found, 300 published" in out  # from its json: the test split was not prepared
    assert "img_all frames of val: 60 found, 1,500 published" in out


def test_report_section_counts_classes_and_frames(prepared):
    from segprep.datasets.cityscapes_vps import CityscapesVPS
    from segprep.engine.progress import Progress

    section = CityscapesVPS().report_section(prepared / "cityscapes_vps", 1, Progress(True))
    assert [(c.split, c.what, c.found) for c in section.counts][:4] == [
        ("train", "frames", 12), ("train", "videos", 2), ("val", "frames", 12), ("val", "videos", 2)]
    assert section.stats.instances[13] > 0 and section.stats.pixels[0] > 0
    assert len(section.frames) == 4 and len(section.strips[0]) == 6
    assert section.frames[0].image.shape == (256, 512, 3) and section.frames[0].void.any()
