"""Cityscapes end to end: sample -> prepare -> verify, against cityscapesScripts' own tools, and faults.

The oracle: createTrainIdLabelImgs, createTrainIdInstanceImgs and createPanopticImgs from the
installed ``cityscapesscripts`` package, run on the extracted sample with a Pillow below 13
(see cityscapes_oracle.py).
"""

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
from pycocotools import mask as mask_utils

import cityscapes_oracle
from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.encodings import cityscapes as cs
from segprep.errors import MissingInput
from segprep.datasets.cityscapes.sample import frame_stems

FRAMES = 1  # one frame per city: train aachen + bochum, val frankfurt, test berlin
STEMS = frame_stems(FRAMES)
LABELLED = [(split, city, stem) for split, city, stem in STEMS if split != "test"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cityscapes") / "raw"
    api.sample("cityscapes", out, options={"frames": FRAMES}, jobs=2)
    return out


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cityscapes") / "extracted"
    for name in ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip"):
        with zipfile.ZipFile(raw / name) as zf:
            zf.extractall(out)
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("cityscapes") / "data"
    summary = api.prepare("cityscapes", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


@pytest.fixture(scope="session")
def prepared_variants(extracted, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("cityscapes") / "variants"
    summary = api.prepare("cityscapes", extracted, data, jobs=2, quiet=True,
                          options={"train_id": True, "segm_trainid": True})
    assert summary.ok, summary.failures
    return data


@pytest.fixture(scope="session")
def oracle(extracted, tmp_path_factory) -> Path:
    """The extracted gtFine after cityscapesScripts' three tools (panoptic outputs, both variants, in out/)."""
    root = tmp_path_factory.mktemp("cityscapes") / "oracle"
    shutil.copytree(extracted / "gtFine", root / "gtFine")
    try:
        cityscapes_oracle.old_pillow()
    except RuntimeError as exc:  # no package index reachable
        pytest.skip(str(exc))
    cityscapes_oracle.run_official(root, root / "out", train_id=True)
    return root


def expected_files(train_id: bool = False) -> set[str]:
    names = {"license.txt"}
    for split, city, stem in STEMS:
        names.add(f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png")
        for kind in ("polygons.json", "labelIds.png", "instanceIds.png", "color.png", "labelTrainIds.png",
                     "instanceTrainIds.png"):
            names.add(f"gtFine/{split}/{city}/{stem}_gtFine_{kind}")
        if split != "test":
            names.add(f"gtFine/cityscapes_panoptic_{split}/{stem}_gtFine_panoptic.png")
            if train_id:
                names.add(f"gtFine/cityscapes_panoptic_{split}_trainId/{stem}_gtFine_panoptic.png")
    for split in ("train", "val"):
        names |= {f"annotations/cityscapes_panoptic_{split}.json", f"annotations/instancesonly_filtered_gtFine_{split}.json",
                  f"gtFine/cityscapes_panoptic_{split}.json"}
        if train_id:
            names.add(f"gtFine/cityscapes_panoptic_{split}_trainId.json")
    return names


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


# ---------------------------------------------------------------------------- the happy paths


def test_archives_give_exactly_the_expected_files_raw_bytes_unchanged(raw, prepared):
    root = prepared / "cityscapes"
    assert set(tree_bytes(root)) == expected_files()
    split, city, stem = LABELLED[0]
    with zipfile.ZipFile(raw / "gtFine_trainvaltest.zip") as zf:
        for kind in ("polygons.json", "labelIds.png", "instanceIds.png", "color.png"):
            rel = f"gtFine/{split}/{city}/{stem}_gtFine_{kind}"
            assert (root / rel).read_bytes() == zf.read(rel)
        assert (root / "license.txt").read_bytes() == zf.read("license.txt")
    with zipfile.ZipFile(raw / "leftImg8bit_trainvaltest.zip") as zf:
        rel = f"leftImg8bit/test/berlin/{STEMS[0][2]}_leftImg8bit.png"
        assert (root / rel).read_bytes() == zf.read(rel)
    assert api.verify("cityscapes", prepared, jobs=2, quiet=True).ok


def test_train_id_maps_equal_cityscapesscripts_tools(prepared, oracle):
    compared = 0
    for split, city, stem in STEMS:  # every split, as the official tools do
        for kind in ("labelTrainIds", "instanceTrainIds"):
            rel = f"gtFine/{split}/{city}/{stem}_gtFine_{kind}.png"
            ours, theirs = pixels(prepared / "cityscapes" / rel), pixels(oracle / rel)
            assert ours.shape == theirs.shape == (1024, 2048)
            assert np.array_equal(ours.astype(np.int64), theirs.astype(np.int64)), rel
            assert ours.dtype == (np.uint8 if kind == "labelTrainIds" else np.uint16)
            compared += 1
    assert compared == 2 * len(STEMS)
    instance = pixels(prepared / "cityscapes" / f"gtFine/{LABELLED[0][0]}/{LABELLED[0][1]}/{LABELLED[0][2]}"
                                                "_gtFine_instanceTrainIds.png")
    assert (instance >= 11000).any() and (instance == 13).any()  # instances and a car group


@pytest.mark.parametrize("train_id", [False, True])
def test_panoptic_equals_create_panoptic_imgs(prepared, prepared_variants, oracle, train_id):
    root = (prepared_variants if train_id else prepared) / "cityscapes"
    suffix = "_trainId" if train_id else ""
    for split in ("train", "val"):
        ours = root / (f"gtFine/cityscapes_panoptic_{split}_trainId.json" if train_id
                       else f"annotations/cityscapes_panoptic_{split}.json")
        theirs = oracle / f"out/cityscapes_panoptic_{split}{suffix}.json"
        assert ours.read_bytes() == theirs.read_bytes()  # byte for byte
        # detectron2 reads the json beside the PNG folder, where createPanopticImgs writes it
        assert (root / f"gtFine/cityscapes_panoptic_{split}{suffix}.json").read_bytes() == theirs.read_bytes()
        names = sorted(os.listdir(oracle / f"out/cityscapes_panoptic_{split}{suffix}"))
        assert names == sorted(os.listdir(root / f"gtFine/cityscapes_panoptic_{split}{suffix}"))
        for name in names:
            assert np.array_equal(pixels(root / f"gtFine/cityscapes_panoptic_{split}{suffix}" / name),
                                  pixels(oracle / f"out/cityscapes_panoptic_{split}{suffix}" / name))
    document = json.loads((root / "annotations/cityscapes_panoptic_val.json").read_text())
    things = sorted(c["id"] for c in document["categories"] if c["isthing"])
    assert things == [24, 25, 26, 27, 28, 31, 32, 33]  # what Video K-Net asserts


def mmdetection_json(root: Path, split: str, segm: str = "labelIds") -> bytes:
    """mmdetection's tools/dataset_converters/cityscapes.py logic, one full mask per instance, on a sorted list."""
    images, annotations = [], []
    for image_id, image in enumerate(sorted((root / "leftImg8bit" / split).glob("*/*.png"))):
        city, stem = image.parent.name, image.name[: -len("_leftImg8bit.png")]
        inst = np.asarray(Image.open(root / "gtFine" / split / city / f"{stem}_gtFine_instanceIds.png"))
        for inst_id in np.unique(inst[inst >= 24]).tolist():
            label = cs.BY_ID[inst_id // 1000 if inst_id >= 1000 else inst_id]
            if not label.hasInstances or label.ignoreInEval:
                continue
            rle = mask_utils.encode(np.asarray(inst == inst_id, dtype=np.uint8, order="F")[:, :, None])[0]
            area, bbox = mask_utils.area(rle).tolist(), mask_utils.toBbox(rle).tolist()
            rle["counts"] = rle["counts"].decode()
            annotations.append({"iscrowd": int(inst_id < 1000), "category_id": label.id, "bbox": bbox, "area": area,
                                "segmentation": rle, "image_id": image_id, "id": len(annotations)})
        images.append({"file_name": f"{city}/{image.name}", "height": inst.shape[0], "width": inst.shape[1],
                       "segm_file": f"{city}/{stem}_gtFine_{segm}.png", "id": image_id})
    categories = [{"id": label.id, "name": label.name} for label in cs.LABELS
                  if label.hasInstances and not label.ignoreInEval]
    return json.dumps({"images": images, "categories": categories, "annotations": annotations}).encode()


def test_instance_json_equals_mmdetection_converter_in_sorted_order(prepared, prepared_variants):
    for split in ("train", "val"):
        rel = f"annotations/instancesonly_filtered_gtFine_{split}.json"
        assert (prepared / "cityscapes" / rel).read_bytes() == mmdetection_json(prepared / "cityscapes", split)
        assert (prepared_variants / "cityscapes" / rel).read_bytes() == mmdetection_json(
            prepared / "cityscapes", split, "labelTrainIds")
    document = json.loads((prepared / "cityscapes/annotations/instancesonly_filtered_gtFine_train.json").read_text())
    assert len(document["images"]) == 2
    crowd = [a for a in document["annotations"] if a["iscrowd"]]
    assert {a["category_id"] for a in crowd} == {24, 26}  # persongroup and cargroup
    assert not [a for a in document["annotations"] if a["category_id"] in (29, 30)]  # caravan, trailer dropped


def test_videoknet_loaders_find_what_they_expect(prepared):
    """lxtGH/Video-K-Net external/cityscapes_step.py + LoadAnnotationsInstanceMasks, and the thing-id assert
    of external/cityscape_panoptic.py."""
    root = prepared / "cityscapes"
    assert os.path.exists(os.path.join(root, "license.txt"))
    for split in ("train", "val", "test"):
        samples = []
        for city in sorted(os.listdir(root / "leftImg8bit" / split)):
            for name in os.listdir(root / "leftImg8bit" / split / city):
                city_name, seq, frame, suffix = name.split("_")  # exactly four parts
                assert (city_name, suffix) == (city, "leftImg8bit.png")
                samples.append((city, int(seq), int(frame)))
        for city, seq, frame in sorted(samples):
            stem = root / "gtFine" / split / city / f"{city}_{seq:06d}_{frame:06d}"
            semantic = pixels(Path(f"{stem}_gtFine_labelTrainIds.png"))
            instance = pixels(Path(f"{stem}_gtFine_instanceTrainIds.png")).astype(np.int64)
            things = np.unique(instance[instance >= 10000])
            assert set((things // 1000).tolist()) <= set(range(11, 19))
            stuff = np.where(instance < 10000, instance * 1000, instance)  # what the loader does with the rest
            assert set(np.unique(stuff // 1000).tolist()) <= set(range(19)) | {255}
            if split == "test":
                assert set(np.unique(semantic).tolist()) == {255}
            else:
                assert {11, 13} <= set((things // 1000).tolist())
    classes = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
    instances = json.loads((root / "annotations/instancesonly_filtered_gtFine_val.json").read_text())
    panoptic = json.loads((root / "annotations/cityscapes_panoptic_val.json").read_text())
    cat_ids = [c["id"] for name in classes for c in instances["categories"] if c["name"] == name]
    assert [c["id"] for c in panoptic["categories"] if c["isthing"]] == cat_ids
    for image in instances["images"]:  # panoptic eval derives image ids from the instance json's names
        assert image["file_name"].split("/")[-1].split(".")[0][:-12] in {a["image_id"] for a in panoptic["annotations"]}


def test_the_sample_has_the_hard_cases_and_its_files_agree(extracted):
    labels, deleted = set(), 0
    for split, city, stem in STEMS:
        base = extracted / "gtFine" / split / city / stem
        document = json.loads(Path(f"{base}_gtFine_polygons.json").read_text())
        assert (document["imgWidth"], document["imgHeight"]) == (2048, 1024)
        names = [o["label"] for o in document["objects"]]
        labels |= set(names)
        deleted += sum(1 for o in document["objects"] if o.get("deleted"))
        label_ids, instance_ids = pixels(Path(f"{base}_gtFine_labelIds.png")), pixels(Path(f"{base}_gtFine_instanceIds.png"))
        color = pixels(Path(f"{base}_gtFine_color.png"))
        assert instance_ids.dtype == np.uint16 and label_ids.dtype == np.uint8 and color.shape == (1024, 2048, 4)
        assert np.array_equal(np.where(instance_ids >= 1000, instance_ids // 1000, instance_ids), label_ids)
        palette = np.zeros((256, 3), np.uint8)
        for label in cs.LABELS:
            if label.id >= 0:
                palette[label.id] = label.color
        assert np.array_equal(color[..., :3], palette[label_ids]) and (color[..., 3] == 255).all()
        assert np.array_equal(cs.rasterize(document, stem), instance_ids)  # drawn from the json, in json order
        if split == "test":
            assert set(names) == {"ego vehicle", "rectification border", "out of roi"}
            assert set(np.unique(label_ids).tolist()) == {0, 1, 2, 3}
        else:
            assert names.count("caravan") == 2 and (instance_ids // 1000 == 29).sum() > 0
    assert {"cargroup", "persongroup", "polegroup", "license plate", "trailer", "rider", "bicycle"} <= labels
    assert deleted == len(LABELLED)


def test_extracted_folders_are_hard_linked_and_equal_the_archive_result(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    assert api.prepare("cityscapes", extracted, tmp_path, jobs=2, quiet=True).ok
    assert tree_bytes(tmp_path / "cityscapes") == tree_bytes(prepared / "cityscapes")
    split, city, stem = LABELLED[0]
    rel = f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"
    assert os.stat(tmp_path / "cityscapes" / rel).st_ino == os.stat(extracted / rel).st_ino
    assert tree_bytes(extracted) == before


def test_a_rerun_skips_everything_and_options_redo_only_what_they_change(raw, prepared, tmp_path):
    summary = api.prepare("cityscapes", raw, prepared, jobs=2, quiet=True)
    assert summary.written == 0 and summary.skipped == summary.planned
    data = tmp_path / "data"
    shutil.copytree(prepared, data, copy_function=os.link)
    summary = api.prepare("cityscapes", raw, data, jobs=2, quiet=True, options={"train_id": True})
    assert summary.written == len(LABELLED)  # only the frames that gain a _trainId panoptic PNG
    assert set(tree_bytes(data / "cityscapes")) == expected_files(train_id=True)
    assert api.verify("cityscapes", data, jobs=2, quiet=True).ok


def test_splits_option_and_dry_run(raw, tmp_path, capsys):
    assert main(["prepare", "cityscapes", "--raw", str(raw), "--data", str(tmp_path), "--dry-run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "train trainIds + panoptic" in out and "gtFine_trainvaltest.zip" in out and "disk: writes" in out
    assert not (tmp_path / "cityscapes").exists()
    summary = api.prepare("cityscapes", raw, tmp_path, options={"splits": "val"}, jobs=1, quiet=True)
    assert summary.ok and set(os.listdir(tmp_path / "cityscapes/leftImg8bit")) == {"val"}
    assert set(os.listdir(tmp_path / "cityscapes/annotations")) == {"cityscapes_panoptic_val.json",
                                                                    "instancesonly_filtered_gtFine_val.json"}


# ---------------------------------------------------------------------------- faults


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "cityscapes", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    out_dir = data / "cityscapes"
    partial = kill_part_way(cmd, out_dir, 10, delay_ms=150)
    assert 10 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(out_dir) == tree_bytes(prepared / "cityscapes")


def test_a_truncated_instance_png_fails_its_frame_only_and_is_named(extracted, tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    split, city, stem = LABELLED[1]
    victim = src / f"gtFine/{split}/{city}/{stem}_gtFine_instanceIds.png"
    victim.write_bytes(victim.read_bytes()[:3000])
    code = main(["prepare", "cityscapes", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1 and f"{victim} is truncated" in out
    written = set(tree_bytes(tmp_path / "data/cityscapes"))
    lost = {f"gtFine/{split}/{city}/{stem}_gtFine_{k}" for k in ("polygons.json", "instanceIds.png", "labelTrainIds.png",
                                                                 "instanceTrainIds.png")}
    lost.add(f"gtFine/cityscapes_panoptic_{split}/{stem}_gtFine_panoptic.png")
    jsons = {n for n in expected_files()  # the jsons of the victim's split wait for it to be complete
             if (n.startswith("annotations/") or (n.startswith("gtFine/cityscapes_panoptic_") and n.endswith(".json")))
             and f"_{split}." in n}
    assert written == expected_files() - lost - jsons


def test_a_damaged_polygons_json_and_a_missing_image_are_named(extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    (split, city, stem), (_, other_city, other) = LABELLED[:2]
    (src / f"gtFine/{split}/{city}/{stem}_gtFine_polygons.json").write_text('{"imgHeight": 1024, "objects": [')
    image = f"leftImg8bit/{split}/{other_city}/{other}_leftImg8bit.png"
    (src / image).unlink()
    summary = api.prepare("cityscapes", src, tmp_path / "data", jobs=2, quiet=True)
    failures = {f.key: f.error for f in summary.failures}
    assert set(failures) == {f"gtFine/{split}/{city}/{stem}_gtFine_*", image}
    assert "is not valid JSON" in failures[f"gtFine/{split}/{city}/{stem}_gtFine_*"]
    assert "leftImg8bit_trainvaltest.zip" in failures[image]


def test_missing_downloads_and_license_say_what_and_where(raw, extracted, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInput, match=r"leftImg8bit_trainvaltest\.zip.*cityscapes-dataset\.com"):
        api.prepare("cityscapes", tmp_path / "empty", tmp_path / "data", quiet=True)
    only_gt = tmp_path / "only_gt"
    only_gt.mkdir()
    shutil.copy(raw / "gtFine_trainvaltest.zip", only_gt)
    with pytest.raises(MissingInput, match=r"no Cityscapes images"):
        api.prepare("cityscapes", only_gt, tmp_path / "data", quiet=True)
    no_license = tmp_path / "no_license"
    shutil.copytree(extracted, no_license)
    (no_license / "license.txt").unlink()
    with pytest.raises(MissingInput, match="no license.txt"):
        api.prepare("cityscapes", no_license, tmp_path / "data", quiet=True)


# ---------------------------------------------------------------------------- verify finds problems


def _copy_for_damage(prepared: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(prepared / "cityscapes", data / "cityscapes")  # a real copy: damage is written in place
    return data / "cityscapes"


def test_verify_reports_damaged_pixels_and_jsons_by_file(prepared_variants, tmp_path):
    root = _copy_for_damage(prepared_variants, tmp_path)
    (split, city_a, a), (_, city_b, b), (_, _, val) = LABELLED
    label = np.array(pixels(root / f"gtFine/{split}/{city_a}/{a}_gtFine_labelTrainIds.png"))
    label[300, 1000] = 7 if label[300, 1000] != 7 else 8  # one pixel inside a region (not a moved edge)
    Image.fromarray(label).save(root / f"gtFine/{split}/{city_a}/{a}_gtFine_labelTrainIds.png")
    instance = np.array(pixels(root / f"gtFine/{split}/{city_b}/{b}_gtFine_instanceTrainIds.png"))
    instance[5, 5] = 20000  # not a trainId
    Image.fromarray(instance).save(root / f"gtFine/{split}/{city_b}/{b}_gtFine_instanceTrainIds.png")
    for suffix in ("", "_trainId"):
        pan = root / f"gtFine/cityscapes_panoptic_{split}{suffix}/{a}_gtFine_panoptic.png"
        rgb = np.array(pixels(pan))
        rgb[600:610, 600:610] = (7, 0, 0)
        Image.fromarray(rgb).save(pan)
    panoptic = json.loads((root / "annotations/cityscapes_panoptic_val.json").read_text())
    panoptic["annotations"][0]["segments_info"][0]["area"] += 1
    (root / "annotations/cityscapes_panoptic_val.json").write_text(json.dumps(panoptic))
    instances = json.loads((root / "annotations/instancesonly_filtered_gtFine_val.json").read_text())
    instances["annotations"][0]["segmentation"] = instances["annotations"][1]["segmentation"]
    (root / "annotations/instancesonly_filtered_gtFine_val.json").write_text(json.dumps(instances))
    report = api.verify("cityscapes", root.parent, jobs=2, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    assert failed == {
        ("agree with ids", f"gtFine/{split}/{city_a}/{a}_gtFine_labelTrainIds.png"),  # vs labelIds
        ("agree with ids", f"gtFine/{split}/{city_a}/{a}_gtFine_instanceTrainIds.png"),  # vs labelTrainIds
        ("values", f"gtFine/{split}/{city_b}/{b}_gtFine_instanceTrainIds.png"),
        ("agree with ids", f"gtFine/{split}/{city_b}/{b}_gtFine_instanceTrainIds.png"),
        ("panoptic ids", f"gtFine/cityscapes_panoptic_{split}/{a}_gtFine_panoptic.png"),
        ("panoptic ids", f"gtFine/cityscapes_panoptic_{split}_trainId/{a}_gtFine_panoptic.png"),
        ("panoptic json", f"gtFine/cityscapes_panoptic_{split}/{a}_gtFine_panoptic.png"),  # areas no longer match
        ("panoptic json", f"gtFine/cityscapes_panoptic_{split}_trainId/{a}_gtFine_panoptic.png"),
        ("panoptic json", f"gtFine/cityscapes_panoptic_val/{val}_gtFine_panoptic.png"),
        ("instance json", f"gtFine/val/frankfurt/{val}_gtFine_instanceIds.png"),
        ("panoptic json", "gtFine/cityscapes_panoptic_val.json"),  # no longer the same as annotations/
    }, failed
    assert main(["verify", "cityscapes", "--data", str(root.parent), "--quiet"]) == 1


def test_verify_reports_missing_stray_truncated_and_misshapen_files(prepared, tmp_path):
    root = _copy_for_damage(prepared, tmp_path)
    (split, city_a, a), (_, city_b, b), _ = LABELLED
    test_stem = STEMS[0][2]
    (root / f"gtFine/test/berlin/{test_stem}_gtFine_color.png").unlink()
    (root / "leftImg8bit/train/aachen/notes.txt").write_text("stray")
    (root / "annotations/extra.json").write_text("{}")
    truncated = root / f"gtFine/{split}/{city_b}/{b}_gtFine_labelIds.png"
    truncated.write_bytes(truncated.read_bytes()[:500])
    small = root / f"gtFine/{split}/{city_a}/{a}_gtFine_labelIds.png"
    Image.fromarray(pixels(small)[:-2]).save(small)
    (root / "license.txt").unlink()
    failed = {(f.check, f.path) for f in api.verify("cityscapes", root.parent, jobs=2, quiet=True).findings}
    assert failed == {
        ("files", f"gtFine/test/berlin/{test_stem}_*"),
        ("layout", "leftImg8bit/train/aachen/notes.txt"),
        ("decode", f"gtFine/{split}/{city_b}/{b}_gtFine_labelIds.png"),
        ("same size", f"gtFine/{split}/{city_a}/{a}_gtFine_labelIds.png"),
        ("layout", "license.txt"),
    }, failed


def test_verify_tolerates_edges_moved_by_another_rasteriser(prepared, tmp_path):
    """Pillow 10 and 11+ fill polygon edges differently: our maps may differ from the shipped labelIds there."""
    root = _copy_for_damage(prepared, tmp_path)
    split, city, stem = LABELLED[0]
    base = root / f"gtFine/{split}/{city}/{stem}_gtFine_"
    label, instance = np.array(pixels(Path(f"{base}labelTrainIds.png"))), np.array(pixels(Path(f"{base}instanceTrainIds.png")))
    edges = np.flatnonzero(instance[:, 1:] != instance[:, :-1])[:300]  # move 300 edge pixels by one column
    rows, cols = np.unravel_index(edges, (instance.shape[0], instance.shape[1] - 1))
    label[rows, cols], instance[rows, cols] = label[rows, cols + 1], instance[rows, cols + 1]
    Image.fromarray(label).save(f"{base}labelTrainIds.png")
    Image.fromarray(instance).save(f"{base}instanceTrainIds.png")
    assert api.verify("cityscapes", root.parent, jobs=1, quiet=True).ok


def test_verify_official_compares_with_the_published_counts(prepared, capsys):
    assert main(["verify", "cityscapes", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "train: 2 found, 2,975 published" in out and "test: 1 found, 1,525 published" in out
    assert "leftImg8bit/val: 1 cities, 3 published; missing ['lindau', 'munster']" in out


def test_report_section_counts_classes_and_frames(prepared):
    from segprep.datasets.cityscapes import Cityscapes
    from segprep.engine.progress import Progress

    section = Cityscapes().report_section(prepared / "cityscapes", 1, Progress(True))
    assert [(c.split, c.found, c.published) for c in section.counts] == [
        ("train", 2, 2975), ("val", 1, 500), ("test", 1, 1525)]
    assert [c.name for c in section.categories][11:] == ["person", "rider", "car", "truck", "bus", "train",
                                                         "motorcycle", "bicycle"]
    cars = sum(1 for split in ("train", "val")
               for a in json.loads((prepared / f"cityscapes/annotations/cityscapes_panoptic_{split}.json").read_text())[
                   "annotations"] for s in a["segments_info"] if s["category_id"] == 26 and not s["iscrowd"])
    assert section.stats.instances[13] == cars > 0
    assert len(section.frames) == 3 and section.frames[0].image.shape == (1024, 2048, 3)
    view = section.frames[0]
    assert set(view.category_of.values()) <= set(range(19)) and view.void.any()
