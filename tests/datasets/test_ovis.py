"""OVIS end to end: sample -> prepare (archives, extracted, mixed) -> verify; the renamed and CocoVID files
against a plain reading of the converter; the loaders' views; YouTube-VIS/OVIS confusion; faults."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.datasets.ovis.sample import VIDEOS, frame_name, video_name
from segprep.datasets.ovis.work import without_null_annotations
from segprep.errors import BadInput, MissingInput
from ytvis_reference import reference_bytes

FRAMES = 4
SPLITS = ("train", "valid", "test")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2
OVIS_CLASSES = ("Person", "Bird", "Cat", "Dog", "Horse", "Sheep", "Cow", "Elephant", "Bear", "Zebra", "Giraffe",
                "Poultry", "Giant_panda", "Lizard", "Parrot", "Monkey", "Rabbit", "Tiger", "Fish", "Turtle", "Bicycle",
                "Motorcycle", "Airplane", "Boat", "Vehical")  # Tube-Link's CLASSES_ovis, as published


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ovis") / "raw"
    api.sample("ovis", out, options={"frames": FRAMES}, jobs=2)
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("ovis") / "data"
    summary = api.prepare("ovis", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    """The Drive folder after unzipping, the jsons moved to annotations/ as DVIS's README shows them."""
    out = tmp_path_factory.mktemp("ovis") / "extracted"
    (out / "annotations").mkdir(parents=True)
    for split in SPLITS:
        shutil.copy(raw / f"annotations_{split}.json", out / "annotations")
        with zipfile.ZipFile(raw / f"{split}.zip") as zf:
            zf.extractall(out)
    return out


def expected_files() -> set[str]:
    names = set()
    for split, videos in VIDEOS.items():
        names |= {f"annotations/annotations_{split}.json", f"annotations/{split}.json",
                  f"annotations/youtube_vis_ovis_{split}.json"}
        names |= {f"{split}/{video_name(split, i)}/{frame_name(k)}" for i in range(len(videos)) for k in range(FRAMES)}
    return names


def load(path: Path):
    return json.loads(path.read_bytes())


# ---------------------------------------------------------------------------- the happy paths


def test_sample_is_the_official_shape(raw):
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        [f"annotations_{s}.json" for s in SPLITS] + [f"{s}.zip" for s in SPLITS])
    with zipfile.ZipFile(raw / "train.zip") as zf:
        frames = [n for n in zf.namelist() if n.endswith(".jpg")]
    assert frames and all(len(n.split("/")) == 3 and n.startswith("train/") and "JPEGImages" not in n for n in frames)
    assert all(len(n.split("/")[1]) == 8 and n.split("/")[2].startswith("img_000000") for n in frames)
    train, valid = load(raw / "annotations_train.json"), load(raw / "annotations_valid.json")
    assert [c["name"] for c in train["categories"]] == list(OVIS_CLASSES)
    assert valid["annotations"] is None and b'"annotations": null' in (raw / "annotations_valid.json").read_bytes()
    track = train["annotations"][0]
    assert set(track) == {"id", "video_id", "category_id", "segmentations", "bboxes", "areas", "iscrowd", "height",
                          "width", "occlusion"}
    masks = [s for t in train["annotations"] for s in t["segmentations"] if s]
    assert masks and all(isinstance(s["counts"], str) for s in masks)
    levels = {o for t in train["annotations"] for o in t["occlusion"]}
    assert levels <= {None, "no_occlusion", "slight_occlusion", "severe_occlusion"} and len(levels) >= 3
    for t in train["annotations"]:
        for seg, area, box in zip(t["segmentations"], t["areas"], t["bboxes"]):
            if seg is not None:
                assert int(mask_utils.area(dict(seg, counts=seg["counts"].encode()))) == area
                assert mask_utils.toBbox(dict(seg, counts=seg["counts"].encode())).tolist() == box


def test_sample_is_deterministic(raw, tmp_path):
    again = api.sample("ovis", tmp_path / "again", options={"frames": FRAMES}, jobs=1)
    assert tree_bytes(again) == tree_bytes(raw)


def test_archives_give_exactly_the_expected_files_with_unchanged_bytes(raw, prepared):
    root = prepared / "ovis"
    assert set(tree_bytes(root)) == expected_files()
    for split in SPLITS:
        official = (raw / f"annotations_{split}.json").read_bytes()
        assert (root / f"annotations/annotations_{split}.json").read_bytes() == official
        with zipfile.ZipFile(raw / f"{split}.zip") as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    assert (root / info.filename).read_bytes() == zf.read(info)
    assert api.verify("ovis", prepared, jobs=2, quiet=True).ok


def test_renamed_files_are_the_official_bytes_without_the_null(raw, prepared):
    root = prepared / "ovis/annotations"
    assert (root / "train.json").read_bytes() == (raw / "annotations_train.json").read_bytes()
    for split in ("valid", "test"):
        official = (raw / f"annotations_{split}.json").read_bytes()
        renamed = (root / f"{split}.json").read_bytes()
        assert renamed == official.replace(b', "annotations": null', b"")
        document = json.loads(renamed)
        assert "annotations" not in document  # a YTVOS-style reader's `'annotations' in dataset` is False
        assert document == {k: v for k, v in json.loads(official).items() if k != "annotations"}


@pytest.mark.parametrize("split", SPLITS)
def test_cocovid_is_byte_identical_to_a_plain_reading_of_the_converter(raw, prepared, split):
    ours = (prepared / f"ovis/annotations/youtube_vis_ovis_{split}.json").read_bytes()
    assert ours == reference_bytes(raw / f"annotations_{split}.json", split)
    document = json.loads(ours)
    assert list(document) == (["categories", "videos", "images", "annotations"] if split == "train"
                              else ["categories", "videos", "images"])
    if split == "train":
        assert all("occlusion" not in a and isinstance(a["segmentation"]["counts"], str)
                   for a in document["annotations"])  # compressed stays compressed, occlusion dropped


def test_tube_link_style_reader_selects_all_25_classes_by_name(prepared):
    root = prepared / "ovis"
    coco = COCO(str(root / "annotations/youtube_vis_ovis_train.json"))
    cat_ids = coco.getCatIds(catNms=list(OVIS_CLASSES))
    assert cat_ids == list(range(1, 26))  # a corrected "Vehicle" would drop class 25 here
    per_video = defaultdict(list)
    for image in coco.dataset["images"]:
        per_video[image["video_id"]].append(image["frame_id"])
        assert (root / "train" / image["file_name"]).is_file()  # img_prefix = data/ovis/train
    assert all(ids == list(range(FRAMES)) for ids in per_video.values())
    labels = set()
    for ann in coco.dataset["annotations"]:
        mask = coco.annToMask(ann)
        image = coco.imgs[ann["image_id"]]
        assert mask.shape == (image["height"], image["width"]) and mask.sum() == ann["area"]
        labels.add(ann["category_id"])
    assert labels == {1, 25}


def test_train_cocovid_round_trips_to_the_official_tracks(prepared):
    """Tracks rebuilt from CocoVID (instance_id, frame_id) equal the official ones minus occlusion/height/width."""
    root = prepared / "ovis/annotations"
    official, cocovid = load(root / "annotations_train.json"), load(root / "youtube_vis_ovis_train.json")
    lengths = {v["id"]: len(v["file_names"]) for v in official["videos"]}
    frame_of = {image["id"]: image["frame_id"] for image in cocovid["images"]}
    rebuilt = {}
    for ann in cocovid["annotations"]:
        track = rebuilt.setdefault(ann["instance_id"], {
            "video_id": ann["video_id"], "category_id": ann["category_id"], "iscrowd": ann["iscrowd"],
            "segmentations": [None] * lengths[ann["video_id"]], "bboxes": [None] * lengths[ann["video_id"]],
            "areas": [None] * lengths[ann["video_id"]]})
        frame = frame_of[ann["image_id"]]
        track["segmentations"][frame], track["bboxes"][frame], track["areas"][frame] = \
            ann["segmentation"], ann["bbox"], ann["area"]
    key = lambda t: json.dumps(t, sort_keys=True)  # noqa: E731
    expected = [{k: t[k] for k in ("video_id", "category_id", "iscrowd", "segmentations", "bboxes", "areas")}
                for t in official["annotations"]]
    assert sorted(map(key, rebuilt.values())) == sorted(map(key, expected))


def test_dvis_style_reader_reads_the_official_names(prepared):
    """DVIS/MinVIS register datasets/ovis/{split} with annotations/annotations_{split}.json and delete a null."""
    root = prepared / "ovis"
    for split in SPLITS:
        document = load(root / f"annotations/annotations_{split}.json")
        if document.get("annotations") is None:
            document.pop("annotations")
        for video in document["videos"]:
            for name in video["file_names"]:
                assert (root / split / name).is_file()


def test_extracted_download_is_linked_and_equals_the_archive_result(extracted, prepared, tmp_path):
    summary = api.prepare("ovis", extracted, tmp_path / "data", jobs=2, quiet=True)
    assert summary.ok, summary.failures
    assert tree_bytes(tmp_path / "data/ovis") == tree_bytes(prepared / "ovis")
    name = f"{video_name('train', 0)}/{frame_name(0)}"
    assert os.path.samefile(tmp_path / "data/ovis/train" / name, extracted / "train" / name)


def test_a_mix_of_archives_and_folders(raw, extracted, prepared, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copytree(extracted / "train", mixed / "train")
    for split in ("valid", "test"):
        shutil.copy(raw / f"{split}.zip", mixed)
    for split in SPLITS:
        shutil.copy(raw / f"annotations_{split}.json", mixed)
    summary = api.prepare("ovis", mixed, tmp_path / "data", jobs=2, quiet=True)
    assert summary.ok, summary.failures
    assert tree_bytes(tmp_path / "data/ovis") == tree_bytes(prepared / "ovis")


@pytest.mark.parametrize("rle", ["list", "mixed"])
def test_uncompressed_and_mixed_rle_samples_prepare_and_verify(tmp_path, rle):
    src = api.sample("ovis", tmp_path / "raw", options={"frames": 2, "rle": rle, "without_occlusion": True}, jobs=1)
    train = load(src / "annotations_train.json")
    kinds = {type(s["counts"]) for t in train["annotations"] for s in t["segmentations"] if s}
    assert kinds == ({list} if rle == "list" else {list, str})
    assert all("occlusion" not in t for t in train["annotations"])
    assert api.prepare("ovis", src, tmp_path / "data", jobs=1, quiet=True).ok
    assert (tmp_path / "data/ovis/annotations/youtube_vis_ovis_train.json").read_bytes() == reference_bytes(
        src / "annotations_train.json", "train")
    assert api.verify("ovis", tmp_path / "data", jobs=1, quiet=True).ok


def test_a_rerun_skips_everything(raw, prepared):
    summary = api.prepare("ovis", raw, prepared, jobs=2, quiet=True)
    assert summary.ok and summary.written == 0 and summary.skipped == len(expected_files())


def test_test_split_is_optional(raw, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    for name in ("annotations_train.json", "annotations_valid.json", "train.zip", "valid.zip"):
        shutil.copy(raw / name, src)
    summary = api.prepare("ovis", src, tmp_path / "data", jobs=1, quiet=True)
    assert summary.ok and not (tmp_path / "data/ovis/test").exists()
    assert api.verify("ovis", tmp_path / "data", jobs=1, quiet=True).ok
    with pytest.raises(MissingInput, match="annotations_test.json"):
        api.prepare("ovis", src, tmp_path / "data", options={"splits": "test"}, quiet=True)


# ---------------------------------------------------------------------------- OVIS and YouTube-VIS confused


def test_a_youtube_vis_json_given_as_ovis_is_refused(raw, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(raw, src)
    ytvis = api.sample("youtube-vis-2019", tmp_path / "ytvis", options={"frames": 2}, jobs=1)
    shutil.copy(ytvis / "valid.json", src / "annotations_valid.json")
    with pytest.raises(BadInput, match=r"YouTube-VIS 2019 categories, not the OVIS ones.*youtube-vis-2019"):
        api.prepare("ovis", src, tmp_path / "data", quiet=True)
    with pytest.raises(BadInput, match="laid out as YouTube-VIS"):
        api.prepare("ovis", ytvis, tmp_path / "data", quiet=True)


def test_an_ovis_json_given_as_youtube_vis_is_refused(raw, tmp_path):
    ytvis = api.sample("youtube-vis-2019", tmp_path / "ytvis", options={"frames": 2}, jobs=1)
    shutil.copy(raw / "annotations_train.json", ytvis / "train.json")
    with pytest.raises(BadInput, match=r"holds the OVIS categories, not the YouTube-VIS 2019 ones.*"
                                       r"`segprep prepare ovis`"):
        api.prepare("youtube-vis-2019", ytvis, tmp_path / "data", jobs=1, quiet=True)
    assert not (tmp_path / "data").exists()


def test_null_annotations_helper_keeps_every_other_byte():
    assert without_null_annotations(b'{"a": 1, "annotations": null, "b": [2]}', "x") == b'{"a": 1, "b": [2]}'
    assert without_null_annotations(b'{"annotations":null ,\n "b": 2}', "x") == b'{"b": 2}'
    assert without_null_annotations(b'{"annotations": []}', "x") == b'{"annotations": []}'
    assert without_null_annotations(b'{"v": "\\"annotations\\": null", "annotations": null}', "x") == \
        b'{"v": "\\"annotations\\": null"}'


# ---------------------------------------------------------------------------- faults


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "ovis", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    kill_part_way(cmd, data / "ovis", files=6, delay_ms=250)
    partial = sum(1 for name in tree_bytes(data / "ovis") if ".segprep-tmp" not in name)
    assert 6 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(data / "ovis") == tree_bytes(prepared / "ovis")


def test_a_truncated_json_fails_its_tasks_only_and_a_hostile_archive_is_refused(raw, extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    official = src / "annotations/annotations_train.json"
    official.write_bytes(official.read_bytes()[:-3000])  # the videos come first: the plan still reads them
    summary = api.prepare("ovis", src, tmp_path / "data", jobs=2, quiet=True)
    assert sorted(f.key for f in summary.failures) == ["annotations/annotations_train.json", "annotations/train.json",
                                                       "annotations/youtube_vis_ovis_train.json"]
    assert all("annotations_train.json" in f.error for f in summary.failures)  # named, never placed
    assert not (tmp_path / "data/ovis/annotations/train.json").exists()
    assert summary.written == len(expected_files()) - 3
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    for name in ("annotations_train.json", "annotations_valid.json", "valid.zip"):
        shutil.copy(raw / name, hostile)
    with zipfile.ZipFile(hostile / "train.zip", "w") as zf:
        zf.writestr("train/../../../../etc/cron.d/x.jpg", b"x")
    with pytest.raises(BadInput, match=r"etc/cron\.d/x\.jpg"):
        api.prepare("ovis", hostile, tmp_path / "data2", quiet=True)
    assert not (tmp_path / "data2").exists()


def test_missing_download_names_the_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInput, match="annotations_train.json.*songbai.site"):
        api.prepare("ovis", tmp_path / "empty", tmp_path / "data", quiet=True)


def test_verify_reports_each_kind_of_damage(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared / "ovis", data / "ovis")
    root = data / "ovis"
    train = root / "annotations/youtube_vis_ovis_train.json"
    document = load(train)
    document["annotations"][3]["area"] += 1
    document["annotations"][6]["image_id"] = 999
    train.write_text(json.dumps(document))
    valid = root / "annotations/youtube_vis_ovis_valid.json"
    document = load(valid)
    document["categories"][24]["name"] = "Vehicle"  # the "fixed" spelling drops the class in mm loaders
    valid.write_text(json.dumps(document))
    (root / "annotations/test.json").write_bytes((root / "annotations/annotations_test.json").read_bytes())
    video = video_name("test", 0)
    (root / f"test/{video}/{frame_name(1)}").unlink()
    damaged = root / f"test/{video}/{frame_name(2)}"
    damaged.write_bytes(damaged.read_bytes()[:2000])
    report = api.verify("ovis", data, jobs=2, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    rel = "annotations/youtube_vis_ovis_train.json"
    assert ("area/box", f"{rel}: annotation 4") in failed
    assert ("annotations", f"{rel}: annotation 7") in failed and ("matches official", rel) in failed
    assert ("categories", "annotations/youtube_vis_ovis_valid.json") in failed
    assert ("renamed copy", "annotations/test.json") in failed
    assert ("frames exist", f"test/{video}/{frame_name(1)}") in failed
    assert ("decode", f"test/{video}/{frame_name(2)}") in failed
    assert main(["verify", "ovis", "--data", str(data), "--quiet"]) == 1


def test_areas_that_are_not_pixel_counts_throughout_are_a_note(prepared, tmp_path):
    """Whether OVIS areas are the masks' pixel counts is unverified: a file where most differ is a convention."""
    from segprep.checks.findings import Report
    from segprep.datasets.ovis.verify import _weigh_area_box

    report = Report("ovis")
    _weigh_area_box("train", 10, [(f"a{i}", "area 1.5, the mask has 2 pixels") for i in range(8)], report)
    assert report.ok and "8 of 10 masks differ" in report.notes[0]
    report = Report("ovis")
    _weigh_area_box("train", 10, [("a1", "area 3, the mask has 2 pixels")], report)
    assert not report.ok


def test_verify_official_compares_with_the_published_counts(prepared, capsys):
    assert main(["verify", "ovis", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "train: 3 videos found, 607 published" in out
    assert "valid: 1 videos found, 140 published" in out and "test: 1 videos found, 154 published" in out


def test_list_raw_finds_the_downloads(raw, extracted):
    from segprep import inventory
    from segprep.datasets.ovis import OVIS

    for folder in (raw, extracted):
        found = inventory.inspect(OVIS(), folder)
        assert inventory.complete(found) and all(f.status == "found" for f in found)


def test_report_section_counts_classes_and_occlusion(prepared):
    from segprep.datasets.ovis import OVIS
    from segprep.engine.progress import Progress

    section = OVIS().report_section(prepared / "ovis", 1, Progress(True))
    counts = {(row.split, row.what): (row.found, row.published) for row in section.counts}
    assert counts[("train", "videos")] == (3, 607) and counts[("valid", "frames")] == (FRAMES, None)
    official = load(prepared / "ovis/annotations/annotations_train.json")
    persons = [t for t in official["annotations"] if t["category_id"] == 1]
    assert section.stats.instances[0] == len(persons) and len(section.stats.instances) == 25
    levels = defaultdict(int)
    for track in official["annotations"]:
        for level in track["occlusion"]:
            if level:
                levels[level] += 1
    for level, n in levels.items():
        assert counts[("train", f"masks: {level}")] == (n, None)
    for view in section.frames:
        assert view.segments.shape == view.image.shape[:2] and set(view.category_of.values()) <= {0, 24}
    assert np.any([view.segments.any() for view in section.frames])
