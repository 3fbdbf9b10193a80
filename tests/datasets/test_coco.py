"""COCO 2017 end to end: sample -> prepare (zips, nested zips, extracted, mixed) -> verify, real files, faults."""

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

from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.encodings import coco
from segprep.errors import MissingInput
from segprep.io.images import decode_png, decode_png_fast, encode_png, encode_png_fast
from segprep.datasets.coco.sample import image_ids

TRAIN, VAL = 6, 4
# detectron2's panoptic_stuff values written out by hand from the dossier (§1.4): stuff category
# ids in the order of the category list get 1..53; every thing id 0; everything else 255.
STUFF_ORDER = [92, 93, 95, 100, 107, 109, 112, 118, 119, 122, 125, 128, 130, 133, 138, 141, 144, 145, 147, 148,
               149, 151, 154, 155, 156, 159, 161, 166, 168, 171, 175, 176, 177, 178, 180, 181, 184, 185, 186, 187,
               188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200]


def hand_value(category_id: int) -> int:
    return STUFF_ORDER.index(category_id) + 1 if category_id in STUFF_ORDER else 0


def ids_of(path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def detectron2_reference(ids: np.ndarray, segments_info: list[dict]) -> np.ndarray:
    """prepare_panoptic_fpn.py's rule, the slow way: 255, then one mask per listed segment."""
    out = np.full(ids.shape, 255, np.uint8)
    for seg in segments_info:
        out[ids == seg["id"]] = hand_value(seg["category_id"])
    return out


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coco") / "raw"
    api.sample("coco", out, options={"train_images": TRAIN, "val_images": VAL}, jobs=2)
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("coco") / "data"
    summary = api.prepare("coco", raw, data, jobs=2, quiet=True, options={"thing_only_json": True})
    assert summary.ok, summary.failures
    return data


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    """What the usual instructions leave: every zip unzipped, the PNG zips at the coco root."""
    out = tmp_path_factory.mktemp("coco") / "extracted"
    for name in ("train2017.zip", "val2017.zip", "annotations_trainval2017.zip", "panoptic_annotations_trainval2017.zip"):
        with zipfile.ZipFile(raw / name) as zf:
            zf.extractall(out)
    for split in ("train", "val"):
        inner = out / f"annotations/panoptic_{split}2017.zip"
        with zipfile.ZipFile(inner) as zf:
            zf.extractall(out)
        inner.unlink()
    return out


def panoptic_json(root: Path, split: str) -> dict:
    return json.loads((root / f"coco/annotations/panoptic_{split}2017.json").read_bytes())


def expected_files(with_thing_only: bool = True) -> set[str]:
    names = {f"annotations/{kind}_{split}2017.json" for kind in ("instances", "panoptic") for split in ("train", "val")}
    for split, n in (("train", TRAIN), ("val", VAL)):
        for image_id in image_ids(split, n):
            names.add(f"{split}2017/{image_id:012d}.jpg")
            names.add(f"panoptic_{split}2017/{image_id:012d}.png")
            names.add(f"panoptic_stuff_{split}2017/{image_id:012d}.png")
    if with_thing_only:
        names.add("annotations/panoptic_train2017_thing_only_coco.json")
    return names


def nested_member(raw: Path, split: str, name: str) -> bytes:
    with zipfile.ZipFile(raw / "panoptic_annotations_trainval2017.zip") as outer:
        with zipfile.ZipFile(io.BytesIO(outer.read(f"annotations/panoptic_{split}2017.zip"))) as inner:
            return inner.read(f"panoptic_{split}2017/{name}")


# ---------------------------------------------------------------------------- the happy paths


def test_zips_give_exactly_the_expected_files_with_unchanged_bytes(raw, prepared):
    root = prepared / "coco"
    assert set(tree_bytes(root)) == expected_files()
    with zipfile.ZipFile(raw / "val2017.zip") as zf:
        assert (root / "val2017/000000000155.jpg").read_bytes() == zf.read("val2017/000000000155.jpg")
    with zipfile.ZipFile(raw / "annotations_trainval2017.zip") as zf:
        assert (root / "annotations/instances_train2017.json").read_bytes() == zf.read(
            "annotations/instances_train2017.json")
    with zipfile.ZipFile(raw / "panoptic_annotations_trainval2017.zip") as zf:
        assert (root / "annotations/panoptic_val2017.json").read_bytes() == zf.read("annotations/panoptic_val2017.json")
    for split, n in (("train", TRAIN), ("val", VAL)):
        for image_id in image_ids(split, n):
            name = f"{image_id:012d}.png"
            assert (root / f"panoptic_{split}2017/{name}").read_bytes() == nested_member(raw, split, name)
    assert api.verify("coco", prepared, jobs=2, quiet=True).ok


def test_panoptic_stuff_equals_detectron2_value_for_value(prepared):
    root = prepared / "coco"
    seen = set()
    for split in ("train", "val"):
        for ann in panoptic_json(prepared, split)["annotations"]:
            stuff = Image.open(root / f"panoptic_stuff_{split}2017" / ann["file_name"])
            assert stuff.mode == "L"
            values = np.asarray(stuff)
            ids = ids_of(root / f"panoptic_{split}2017" / ann["file_name"])
            assert np.array_equal(values, detectron2_reference(ids, ann["segments_info"]))
            seen |= set(np.unique(values).tolist())
    assert 0 in seen and 255 in seen and len(seen - {0, 255}) >= 10  # things, void and many stuff classes


def test_sample_has_crowds_void_colour_ids_and_an_image_without_objects(prepared):
    anns = panoptic_json(prepared, "train")["annotations"]
    segments = [s for a in anns for s in a["segments_info"]]
    assert any(s["iscrowd"] for s in segments)
    colours = {tuple(c[4]): c[0] for c in coco.CATEGORIES}
    stuff = [s for s in segments if s["category_id"] in STUFF_ORDER]
    assert all(colours[tuple(coco.id2rgb(np.array(s["id"])).tolist())] == s["category_id"] for s in stuff)
    assert any(s["id"] > 65535 for s in segments)  # B carries bits
    assert any((ids_of(prepared / "coco/panoptic_train2017" / a["file_name"]) == 0).any() for a in anns)
    instances = json.loads((prepared / "coco/annotations/instances_train2017.json").read_bytes())
    with_objects = {a["image_id"] for a in instances["annotations"]}
    assert with_objects < {i["id"] for i in instances["images"]}
    crowd = [a for a in instances["annotations"] if a["iscrowd"]]
    assert crowd and all(isinstance(a["segmentation"]["counts"], list) for a in crowd)
    modes = {Image.open(p).mode for p in (prepared / "coco/train2017").iterdir()}
    assert modes == {"RGB", "L"}


def test_detectron2_and_videoknet_loaders_find_everything(prepared):
    root = prepared / "coco"
    instances = json.loads((root / "annotations/instances_train2017.json").read_bytes())
    panoptic = panoptic_json(prepared, "train")
    # Video K-Net external/coco_panoptic.py: thing ids == instance category ids, unique ann ids, seg_map name
    thing_ids = [c["id"] for c in panoptic["categories"] if c["isthing"]]
    assert [c["id"] for c in instances["categories"]] == thing_ids
    ann_ids = [a["id"] for a in instances["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids)
    for img in instances["images"]:
        assert (root / "train2017" / img["file_name"]).exists()
        assert (root / "panoptic_stuff_train2017" / img["file_name"].replace("jpg", "png")).exists()
    # detectron2 coco_panoptic.py: image_root, panoptic_root and sem_seg_root by file name
    for ann in panoptic["annotations"]:
        image_file = root / "train2017" / (os.path.splitext(ann["file_name"])[0] + ".jpg")
        assert image_file.exists()
        assert (root / "panoptic_train2017" / ann["file_name"]).exists()
        assert (root / "panoptic_stuff_train2017" / ann["file_name"]).exists()


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside pycocotools on numpy 2
def test_thing_only_json_holds_the_thing_segments_as_rle(prepared):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    root = prepared / "coco"
    path = root / "annotations/panoptic_train2017_thing_only_coco.json"
    api_ = COCO(str(path))
    data = json.loads(path.read_bytes())
    panoptic = panoptic_json(prepared, "train")
    things = [(a, s) for a in panoptic["annotations"] for s in a["segments_info"] if s["category_id"] in coco.THING_IDS]
    assert len(data["annotations"]) == len(things)
    assert [a["id"] for a in data["annotations"]] == list(range(1, len(things) + 1))
    assert data["images"] == panoptic["images"]
    assert [c["id"] for c in data["categories"]] == [c["id"] for c in panoptic["categories"] if c["isthing"]]
    assert all(set(c) == {"supercategory", "id", "name"} for c in data["categories"])
    for ann, (pan, seg) in zip(data["annotations"], things):
        ids = ids_of(root / "panoptic_train2017" / pan["file_name"])
        mask = mask_utils.decode(api_.anns[ann["id"]]["segmentation"])
        assert np.array_equal(mask.astype(bool), ids == seg["id"])
        assert (ann["image_id"], ann["category_id"], ann["iscrowd"], ann["area"], ann["bbox"]) == (
            pan["image_id"], seg["category_id"], seg["iscrowd"], seg["area"], seg["bbox"])
        assert isinstance(ann["segmentation"]["counts"], str)


def test_extracted_folders_are_hard_linked_and_equal_the_zip_result(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    summary = api.prepare("coco", extracted, tmp_path, jobs=2, quiet=True, options={"thing_only_json": True})
    assert summary.ok, summary.failures
    assert tree_bytes(tmp_path / "coco") == tree_bytes(prepared / "coco")
    for rel, src in (("train2017/000000000025.jpg", "train2017/000000000025.jpg"),
                     ("panoptic_val2017/000000000139.png", "panoptic_val2017/000000000139.png"),
                     ("annotations/instances_val2017.json", "annotations/instances_val2017.json")):
        assert os.stat(tmp_path / "coco" / rel).st_ino == os.stat(extracted / src).st_ino
    assert tree_bytes(extracted) == before


def test_any_mix_of_zips_inner_zips_and_folders(raw, extracted, prepared, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    shutil.copy(raw / "train2017.zip", src)  # train images zipped, val extracted
    shutil.copytree(extracted / "val2017", src / "val2017")
    shutil.copy(raw / "annotations_trainval2017.zip", src)
    with zipfile.ZipFile(raw / "panoptic_annotations_trainval2017.zip") as zf:
        zf.extractall(src)  # outer zip extracted, the train PNG zip left as it is
    with zipfile.ZipFile(src / "annotations/panoptic_val2017.zip") as zf:
        zf.extractall(src / "annotations")  # mmdetection's place: annotations/panoptic_val2017/
    (src / "annotations/panoptic_val2017.zip").unlink()
    summary = api.prepare("coco", src, tmp_path / "data", jobs=1, quiet=True, options={"thing_only_json": True})
    assert summary.ok, summary.failures
    assert tree_bytes(tmp_path / "data/coco") == tree_bytes(prepared / "coco")


def test_stored_inner_zips_are_read_by_random_access(prepared, tmp_path, capsys):
    src = tmp_path / "raw"
    api.sample("coco", src, options={"train_images": TRAIN, "val_images": VAL, "nested": "stored"}, jobs=2)
    with zipfile.ZipFile(src / "panoptic_annotations_trainval2017.zip") as zf:
        assert zf.getinfo("annotations/panoptic_train2017.zip").compress_type == zipfile.ZIP_STORED
    assert main(["prepare", "coco", "--raw", str(src), "--data", str(tmp_path), "--dry-run", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "panoptic_annotations_trainval2017.zip!annotations/panoptic_train2017.zip: 6 panoptic PNGs (random access)" in out
    summary = api.prepare("coco", src, tmp_path / "data", jobs=2, quiet=True, options={"thing_only_json": True})
    assert summary.ok
    assert tree_bytes(tmp_path / "data/coco") == tree_bytes(prepared / "coco")


def test_a_rerun_skips_everything_and_splits_select_work(raw, prepared, tmp_path):
    summary = api.prepare("coco", raw, prepared, jobs=2, quiet=True, options={"thing_only_json": True})
    assert summary.written == 0 and summary.skipped == summary.planned
    assert summary.finalized == [] and summary.finalize_unchanged == 1  # the json already held those bytes
    summary = api.prepare("coco", raw, tmp_path, jobs=1, quiet=True, options={"splits": "val"})
    assert summary.ok
    assert set(tree_bytes(tmp_path / "coco")) == {n for n in expected_files(False) if "val" in n}


def test_report_section_counts_classes_and_draws_frames(prepared):
    from segprep import datasets
    from segprep.engine.progress import Progress

    section = datasets.get("coco").report_section(prepared / "coco", 1, Progress(True))
    assert [(c.split, c.what, c.found) for c in section.counts] == [
        (split, what, n) for split, n in (("train", TRAIN), ("val", VAL))
        for what in ("images", "panoptic PNGs", "panoptic_stuff maps")]
    assert len(section.categories) == 133 and sum(c.isthing for c in section.categories) == 80
    segments = [s for split in ("train", "val") for a in panoptic_json(prepared, split)["annotations"]
                for s in a["segments_info"]]
    assert sum(section.stats.pixels) == sum(s["area"] for s in segments)
    things = [s for s in segments if s["category_id"] in coco.THING_IDS and not s["iscrowd"]]
    assert sum(section.stats.instances) == len(things)
    assert len(section.frames) == 4
    for view in section.frames:
        assert view.image.shape[:2] == view.segments.shape and view.image.shape[2] == 3
        assert set(np.unique(view.segments[~view.void]).tolist()) <= set(view.category_of)


# ---------------------------------------------------------------------------- the real COCO files


@pytest.fixture
def real_raw(shared_data, tmp_path) -> tuple[Path, dict]:
    """The two real val images, their panoptic PNGs and json, as an extracted download."""
    sample = shared_data / "coco-panopticapi-sample"
    panoptic = json.loads((sample / "panoptic_examples.json").read_bytes())
    raw = tmp_path / "raw"
    (raw / "annotations").mkdir(parents=True)
    shutil.copy(sample / "panoptic_examples.json", raw / "annotations/panoptic_val2017.json")
    shutil.copytree(sample / "panoptic_examples", raw / "panoptic_val2017")
    shutil.copytree(sample / "input_images", raw / "val2017")
    instances = {"info": panoptic["info"], "licenses": panoptic["licenses"], "images": panoptic["images"],
                 "annotations": [], "categories": coco.instance_categories()}
    (raw / "annotations/instances_val2017.json").write_text(json.dumps(instances))
    return raw, panoptic


def test_real_panoptic_pngs_give_the_hand_computed_stuff_values(real_raw, tmp_path):
    raw, panoptic = real_raw
    summary = api.prepare("coco", raw, tmp_path / "data", jobs=1, quiet=True, options={"splits": "val"})
    assert summary.ok, summary.failures
    root = tmp_path / "data/coco"
    for ann in panoptic["annotations"]:
        values = np.asarray(Image.open(root / "panoptic_stuff_val2017" / ann["file_name"]))
        ids = ids_of(raw / "panoptic_val2017" / ann["file_name"])
        for seg in ann["segments_info"]:  # each segment's pixels, counted by its json area, hold its hand value
            assert np.count_nonzero(values[ids == seg["id"]] == hand_value(seg["category_id"])) == seg["area"]
        assert np.count_nonzero(values == 255) == values.size - sum(s["area"] for s in ann["segments_info"])
    # a few values of 000000142238 spelled out: grass-merged (193) is stuff #46, person (1) a thing
    ann = next(a for a in panoptic["annotations"] if a["image_id"] == 142238)
    values = np.asarray(Image.open(root / "panoptic_stuff_val2017/000000142238.png"))
    ids = ids_of(raw / "panoptic_val2017/000000142238.png")
    grass = next(s for s in ann["segments_info"] if s["category_id"] == 193)
    assert set(np.unique(values[ids == grass["id"]]).tolist()) == {46}
    person = next(s for s in ann["segments_info"] if s["category_id"] == 1)
    assert set(np.unique(values[ids == person["id"]]).tolist()) == {0}
    assert set(np.unique(values[ids == 0]).tolist()) == {255}


def test_real_json_and_png_pairs_pass_verify(real_raw, tmp_path):
    raw, _ = real_raw
    assert api.prepare("coco", raw, tmp_path / "data", jobs=1, quiet=True, options={"splits": "val"}).ok
    report = api.verify("coco", tmp_path / "data", jobs=1, quiet=True)
    assert report.ok, report.table()
    assert report.to_json()["checks"]["area/bbox"]["checked"] == 2


def test_category_table_is_panopticapis(shared_data):
    official = json.loads((shared_data / "coco-panopticapi-sample/panoptic_coco_categories.json").read_bytes())
    assert coco.panoptic_categories() == official
    assert list(coco.STUFF_IDS) == STUFF_ORDER and len(coco.THING_IDS) == 80


# ---------------------------------------------------------------------------- units


def test_id_encoding_and_stuff_lookup_by_hand():
    rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [30, 150, 200]]], np.uint8)
    assert coco.rgb2id(rgb).tolist() == [[1, 256, 65536, 30 + 150 * 256 + 200 * 65536]]
    assert np.array_equal(coco.id2rgb(coco.rgb2id(rgb)), rgb)
    rgba = np.concatenate([rgb, np.full((1, 4, 1), 255, np.uint8)], axis=2)
    assert coco.rgba2id(rgba).tolist() == coco.rgb2id(rgb).tolist()
    ids = np.array([[0, 5, 7, 9], [5, 5, 11, 0]], np.uint32)
    # 5 sky-other-merged (187) -> 40, 7 person -> 0, 9 crowd car -> 0, 11 not listed -> 255, 0 void -> 255
    out = coco.panoptic_stuff(ids, [(5, 187), (7, 1), (9, 3)])
    assert out.tolist() == [[255, 40, 0, 0], [40, 40, 255, 255]]
    assert coco.panoptic_stuff(ids, [(5, 92), (5, 200)]).tolist()[0][1] == 53  # a repeated id: the last wins
    assert coco.panoptic_stuff(ids, [(9, 3)]).tolist() == [[255, 255, 255, 0], [255, 255, 255, 255]]  # table reset
    with pytest.raises(KeyError):
        coco.panoptic_stuff(ids, [(5, 183)])  # 183 is no panoptic category


def test_segment_stats_by_hand():
    ids = np.array([[0, 5, 5, 0], [7, 5, 0, 0], [7, 0, 0, 12]], np.uint32)
    areas, boxes, unlisted = coco.segment_stats(ids, [5, 7, 99])
    assert areas == [3, 2, 0]
    assert boxes == [[1, 0, 2, 2], [0, 1, 1, 2], []]
    assert unlisted == [12]
    areas, _, unlisted = coco.segment_stats(ids, [0, 5, 7, 12])
    assert areas == [6, 3, 2, 1] and unlisted == []
    for count in (20, 100):  # one bit per segment below 64 segments, per-row counts above
        many = np.random.default_rng(count).integers(1, count + 1, (30, 40)).astype(np.uint32) * 1000
        keys = sorted(set(many.ravel().tolist()))
        areas, boxes, _ = coco.segment_stats(many, keys)
        for key, area, box in zip(keys, areas, boxes):
            ys, xs = np.nonzero(many == key)
            assert area == len(ys) and box == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    listed = coco.Segments(ids, [5, 7, 5])  # verify's stuff map from the same slots: the last of equal ids wins
    assert listed.panoptic_stuff([92, 1, 200]).tolist() == coco.panoptic_stuff(ids, [(5, 92), (7, 1), (5, 200)]).tolist()
    assert listed.panoptic_stuff([92, 1, 200]).tolist() == [[255, 53, 53, 255], [0, 53, 255, 255], [0, 255, 255, 255]]


def test_fast_png_codecs_match_pillow_and_catch_damage():
    rgb = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    data = encode_png(rgb)
    assert np.array_equal(decode_png_fast(data, "x.png"), rgb)
    gray = np.random.default_rng(2).integers(0, 256, (37, 53), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png_fast(gray), "g.png"), gray)
    assert np.array_equal(decode_png_fast(encode_png_fast(gray), "g.png"), gray)
    deep = np.array([[0, 65535], [256, 7]], np.uint16)
    assert np.array_equal(decode_png_fast(encode_png_fast(deep), "d.png"), deep)  # 16-bit goes through Pillow
    from segprep.errors import BadInput

    with pytest.raises(BadInput, match="x.png is truncated"):
        decode_png_fast(data[:-5], "x.png")  # libspng alone accepts a damaged IEND


# ---------------------------------------------------------------------------- faults


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "coco", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet", "--thing-only-json"]
    out_dir = data / "coco"
    partial = kill_part_way(cmd, out_dir, 6, delay_ms=200)
    assert 6 <= partial < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(out_dir) == tree_bytes(prepared / "coco")


def _rewrite_nested(raw: Path, dst: Path, split: str, damage) -> None:
    """Copies the panoptic zip with one inner PNG zip rewritten through ``damage(name, bytes)``."""
    with zipfile.ZipFile(raw / "panoptic_annotations_trainval2017.zip") as zin, \
            zipfile.ZipFile(dst / "panoptic_annotations_trainval2017.zip", "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == f"annotations/panoptic_{split}2017.zip":
                buffer = io.BytesIO()
                with zipfile.ZipFile(io.BytesIO(data)) as inner, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new:
                    for member in inner.infolist():
                        new.writestr(member, damage(member.filename, inner.read(member)))
                data = buffer.getvalue()
            zout.writestr(info, data)


def test_a_truncated_png_inside_the_nested_zip_is_named_and_everything_else_written(raw, tmp_path, capsys):
    src = tmp_path / "raw"
    src.mkdir()
    for name in ("train2017.zip", "val2017.zip", "annotations_trainval2017.zip"):
        shutil.copy(raw / name, src)
    victim = "panoptic_train2017/000000000041.png"
    _rewrite_nested(raw, src, "train", lambda name, data: data[:2000] if name == victim else data)
    code = main(["prepare", "coco", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "panoptic_annotations_trainval2017.zip!annotations/panoptic_train2017.zip:" + victim + " is truncated" in out
    written = set(tree_bytes(tmp_path / "data/coco"))
    lost = {victim, "panoptic_stuff_train2017/000000000041.png"}
    assert written == expected_files(False) - lost


def test_a_truncated_jpeg_and_a_missing_png_fail_only_their_own_tasks(extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    jpeg = src / "val2017/000000000171.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:3000])
    (src / "panoptic_train2017/000000000073.png").unlink()
    summary = api.prepare("coco", src, tmp_path / "data", jobs=2, quiet=True)
    failed = {f.key: f.error for f in summary.failures}
    assert set(failed) == {"val2017/000000000171.jpg", "panoptic_train2017/000000000073.png"}
    assert f"{jpeg} is truncated" in failed["val2017/000000000171.jpg"]
    assert "panoptic_train2017/000000000073.png in annotations/panoptic_train2017.zip" in failed[
        "panoptic_train2017/000000000073.png"]
    written = set(tree_bytes(tmp_path / "data/coco"))
    assert written == expected_files(False) - {"val2017/000000000171.jpg", "panoptic_train2017/000000000073.png",
                                               "panoptic_stuff_train2017/000000000073.png"}


def test_missing_downloads_say_what_and_where(raw, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInput, match=r"panoptic_annotations_trainval2017\.zip.*cocodataset"):
        api.prepare("coco", tmp_path / "empty", tmp_path / "data", quiet=True)
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("val2017.zip", "annotations_trainval2017.zip", "panoptic_annotations_trainval2017.zip"):
        shutil.copy(raw / name, partial)
    with pytest.raises(MissingInput, match=r"train2017\.zip"):
        api.prepare("coco", partial, tmp_path / "data", quiet=True)
    assert api.prepare("coco", partial, tmp_path / "data", options={"splits": "val"}, quiet=True).ok


# ---------------------------------------------------------------------------- verify finds problems


def test_verify_reports_each_kind_of_damage_by_file(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared / "coco", data / "coco")
    root = data / "coco"
    # a PNG pixel with an id no segment lists, which also breaks its area
    png = root / "panoptic_train2017/000000000009.png"
    rgb = np.array(Image.open(png))
    rgb[0, 0] = (1, 2, 3)
    png.write_bytes(encode_png(rgb))
    # a json area that is off by one
    pan = json.loads((root / "annotations/panoptic_val2017.json").read_bytes())
    pan["annotations"][1]["segments_info"][0]["area"] += 1
    (root / "annotations/panoptic_val2017.json").write_text(json.dumps(pan))
    # a stuff map with one wrong value and one impossible value
    stuff = root / "panoptic_stuff_train2017/000000000025.png"
    values = np.array(Image.open(stuff))
    values[5, 5] = 77
    stuff.write_bytes(encode_png(values))
    other = root / "panoptic_stuff_val2017/000000000139.png"
    values = np.array(Image.open(other))
    values[values == 255] = 0
    other.write_bytes(encode_png(values))
    (root / "panoptic_stuff_val2017/000000000171.png").unlink()
    (root / "train2017/notes.txt").write_text("stray")
    image = root / "val2017/000000000187.jpg"
    Image.open(image).resize((64, 48)).save(image)  # decodes, but not at the json's size
    truncated = root / "train2017/000000000057.jpg"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    report = api.verify("coco", data, jobs=2, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    assert failed == {
        ("panoptic png", "panoptic_train2017/000000000009.png"),
        ("area/bbox", "panoptic_train2017/000000000009.png"),
        ("panoptic_stuff", "panoptic_stuff_train2017/000000000009.png"),  # no longer agrees with its PNG
        ("area/bbox", "panoptic_val2017/000000000155.png"),
        ("panoptic_stuff", "panoptic_stuff_train2017/000000000025.png"),
        ("panoptic_stuff", "panoptic_stuff_val2017/000000000139.png"),
        ("pairs", "panoptic_stuff_val2017/000000000171.png"),
        ("layout", "train2017/notes.txt"),
        ("decode", "val2017/000000000187.jpg"),
        ("decode", "train2017/000000000057.jpg"),
    }, report.table()
    assert main(["verify", "coco", "--data", str(data), "--quiet"]) == 1


def test_verify_catches_json_inconsistencies(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared / "coco", data / "coco")
    root = data / "coco"
    pan = json.loads((root / "annotations/panoptic_train2017.json").read_bytes())
    pan["annotations"][0]["segments_info"][0]["category_id"] = 183  # not a panoptic category
    (root / "annotations/panoptic_train2017.json").write_text(json.dumps(pan))
    ins = json.loads((root / "annotations/instances_val2017.json").read_bytes())
    ins["annotations"][1]["id"] = ins["annotations"][0]["id"]
    ins["images"] = ins["images"][1:]
    (root / "annotations/instances_val2017.json").write_text(json.dumps(ins))
    report = api.verify("coco", data, jobs=1, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    assert ("categories", "panoptic_train2017/000000000009.png") in failed
    assert ("instances", "annotations/instances_val2017.json") in failed
    assert ("json agreement", "annotations/panoptic_val2017.json") in failed


def test_verify_official_compares_with_the_published_counts(prepared, capsys):
    assert main(["verify", "coco", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "images (folder) of train: 6 found, 118,287 published" in out
    assert "images (panoptic) of val: 4 found, 5,000 published" in out
    assert "official categories" in out and "official categories" not in [
        line.split("]")[0].strip("[ ") for line in out.splitlines() if line.startswith("  [")]
