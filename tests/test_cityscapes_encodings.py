"""Cityscapes encodings: label tables, rasterisation, panoptic ids, runs and RLE, pinned by hand and round trips."""

import json

import numpy as np
import pytest
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from PIL import Image
from pycocotools import mask as mask_utils

from segprep.checks.rules import mismatches_off_edges
from segprep.encodings import cityscapes as cs
from segprep.errors import BadInput

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


def test_label_table_is_the_official_one():
    assert len(cs.LABELS) == 35 and cs.BY_NAME["car"].id == 26 and cs.BY_NAME["car"].trainId == 13
    assert cs.THING_IDS == (24, 25, 26, 27, 28, 31, 32, 33)
    assert cs.THING_TRAIN_IDS == tuple(range(11, 19))
    assert cs.resolve_label("cargroup") == (cs.BY_NAME["car"], True)
    assert cs.resolve_label("polegroup") == (cs.BY_NAME["polegroup"], False)  # a label of its own
    with pytest.raises(KeyError):
        cs.resolve_label("skygroupx")


@pytest.mark.parametrize("value, label_train, instance_train", [
    (0, 255, 255),  # unlabeled
    (7, 0, 0),  # road
    (23, 10, 10),  # sky
    (26, 13, 13),  # a car group: plain trainId
    (26000, 13, 13000),  # first car
    (26017, 13, 13017),
    (24003, 11, 11003),  # person
    (33001, 18, 18001),  # bicycle
    (29001, 255, 255),  # caravan: void, also as an instance
    (30, 255, 255),  # trailer group
    (9, 255, 255),  # parking
])
def test_instance_ids_to_train_ids(value, label_train, instance_train):
    label, instance = cs.train_ids_of_instance_ids(np.array([[value]], np.uint16))
    assert (int(label[0, 0]), int(instance[0, 0])) == (label_train, instance_train)
    assert label.dtype == np.uint8 and instance.dtype == np.uint16


def test_label_ids_to_train_ids_and_unknown_values():
    assert cs.label_train_ids(np.array([0, 7, 8, 11, 24, 33, 34], np.uint8)).tolist() == [255, 0, 1, 2, 11, 18, 255]
    ids = np.array([[7, 26001, 34], [999, 34000, 26]], np.uint16)
    assert cs.unknown_values(ids) == [34, 999, 34000]


def _random_annotation(rng: np.random.Generator, width: int = 300, height: int = 200) -> dict:
    names = ["road", "sky", "building", "car", "cargroup", "person", "persongroup", "caravan", "trailer", "license plate",
             "polegroup", "bicycle", "rider", "ego vehicle", "rectification border", "out of roi"]
    objects = []
    for i in range(60):
        n = int(rng.integers(3, 12))
        points = rng.integers(-20, max(width, height) + 20, (n, 2)).tolist()
        obj = {"label": names[int(rng.integers(len(names)))], "polygon": points}
        if i % 13 == 5:
            obj["deleted"] = 1
        objects.append(obj)
    return {"imgHeight": height, "imgWidth": width, "objects": objects}


@pytest.mark.parametrize("seed", range(4))
def test_rasterize_equals_the_official_drawing_in_every_encoding(seed):
    document = _random_annotation(np.random.default_rng(seed))
    annotation = Annotation()
    annotation.fromJsonText(json.dumps(document))
    ids = cs.rasterize(document, "x.json")
    assert np.array_equal(ids, np.asarray(createInstanceImage(annotation, "ids")))
    label_train, instance_train = cs.train_ids_of_instance_ids(ids)
    assert np.array_equal(label_train, np.asarray(createLabelImage(annotation, "trainIds")))
    assert np.array_equal(instance_train, np.asarray(createInstanceImage(annotation, "trainIds")))
    assert np.array_equal(cs.semantic_train_id_lut()[ids], label_train)
    label_ids = np.asarray(createLabelImage(annotation, "ids"))
    assert np.array_equal(np.where(ids >= 1000, ids // 1000, ids), label_ids)


def test_rasterize_names_the_file_and_object_of_bad_input():
    with pytest.raises(BadInput, match=r"x\.json: object 1 has an unknown label"):
        cs.rasterize({"imgWidth": 4, "imgHeight": 4, "objects": [
            {"label": "car", "polygon": [[0, 0], [2, 0], [2, 2]]}, {"label": "spaceship", "polygon": [[0, 0]]}]}, "x.json")
    with pytest.raises(BadInput, match="not a Cityscapes polygons file"):
        cs.rasterize({"objects": []}, "x.json")


def test_deleted_objects_and_license_plates_are_not_drawn_and_groups_keep_the_class_id():
    square = [[0, 0], [9, 0], [9, 9], [0, 9]]
    document = {"imgWidth": 10, "imgHeight": 10, "objects": [
        {"label": "car", "polygon": square}, {"label": "car", "polygon": square, "deleted": 1},
        {"label": "license plate", "polygon": square}, {"label": "cargroup", "polygon": [[0, 0], [3, 0], [3, 3], [0, 3]]},
        {"label": "car", "polygon": [[6, 6], [9, 6], [9, 9], [6, 9]]}]}
    ids = cs.rasterize(document, "x")
    assert ids[0, 0] == 26 and ids[5, 5] == 26000 and ids[9, 9] == 26001  # the deleted car took no number


# ---------------------------------------------------------------------- runs, stats, RLE


def _maps():
    rng = np.random.default_rng(3)
    yield np.zeros((5, 4), np.uint16)
    yield np.full((3, 7), 26001, np.uint16)
    small = rng.integers(0, 5, (31, 17)).astype(np.uint16)
    yield small
    blocks = np.kron(rng.integers(0, 4, (8, 8)), np.ones((7, 9), int)).astype(np.uint16) + 24000
    yield blocks
    column = np.zeros((6, 5), np.uint16)
    column[3:, 1] = 7
    column[:2, 2] = 7  # runs of 7 that touch across a column end (one RLE run, box over full height)
    yield column


@pytest.mark.parametrize("ids", list(_maps()))
def test_segment_stats_equal_per_value_masks(ids):
    stats = cs.segment_stats(cs.column_runs(ids))
    assert stats.values.tolist() == np.unique(ids).tolist()
    for value, area, box in zip(stats.values, stats.areas, stats.boxes):
        ys, xs = np.nonzero(ids == value)
        assert area == ys.size
        assert box.tolist() == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


@pytest.mark.parametrize("ids", list(_maps()))
def test_compressed_rles_equal_pycocotools_encode_and_decode_back(ids):
    stats = cs.segment_stats(cs.column_runs(ids))
    values = stats.values.tolist() + [12345]  # a value that is absent: an all-zero mask
    for value, rle in zip(values, cs.compress_rles(stats, values, *ids.shape)):
        mask = np.asfortranarray((ids == value).astype(np.uint8))
        expected = mask_utils.encode(mask)
        assert rle == {"size": expected["size"], "counts": expected["counts"].decode()}
        decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
        assert np.array_equal(decoded, mask)


def test_rle_counts_by_hand():
    # column-major flat mask 0 0 1 1 1 0 1 -> counts 2, 3, 1, 1
    assert cs.rle_counts(np.array([2, 6]), np.array([3, 1]), 7).tolist() == [2, 3, 1, 1]
    assert cs.rle_counts(np.array([0]), np.array([4]), 6).tolist() == [0, 4, 2]
    assert cs.rle_counts(np.array([], np.int64), np.array([], np.int64), 6).tolist() == [6]


def test_instance_annotations_follow_mmdetection():
    ids = np.full((20, 30), 7, np.uint16)
    ids[2:5, 3:9] = 26000
    ids[10:12, 0:4] = 26  # a car group: crowd
    ids[15:18, 20:22] = 29000  # caravan: dropped
    ids[0:2, 25:30] = 24001
    ids[19, 29] = 23  # sky: stuff, not an instance
    annotations = cs.instance_annotations(cs.segment_stats(cs.column_runs(ids)), 20, 30)  # ascending: 26, 24001, 26000
    assert [(a["category_id"], a["iscrowd"], a["area"], a["bbox"]) for a in annotations] == [
        (26, 1, 8, [0.0, 10.0, 4.0, 2.0]), (24, 0, 10, [25.0, 0.0, 5.0, 2.0]), (26, 0, 18, [3.0, 2.0, 6.0, 3.0])]
    assert list(annotations[0]) == ["iscrowd", "category_id", "bbox", "area", "segmentation"]


# ---------------------------------------------------------------------- panoptic


def test_panoptic_ids_round_trip_and_void_classes_are_zero():
    ids = np.array([[7, 26001, 0], [29000, 24, 33999]], np.uint16)
    rgb = cs.panoptic_rgb(ids)
    assert rgb[0, 1].tolist() == [26001 % 256, 26001 // 256, 0]
    assert cs.rgb_to_id(rgb).tolist() == [[7, 26001, 0], [0, 24, 33999]]  # unlabeled and caravan are void


def test_segment_categories_as_create_panoptic_imgs():
    assert cs.segment_category(26) == (26, 1)  # group -> crowd
    assert cs.segment_category(26, train_id=True) == (13, 1)
    assert cs.segment_category(26002) == (26, 0)
    assert cs.segment_category(7) == (7, 0)  # stuff below 1000 is never crowd
    assert cs.segment_category(7, train_id=True) == (0, 0)
    categories = cs.panoptic_categories()
    assert [c["id"] for c in categories] == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    assert [c["id"] for c in cs.panoptic_categories(True)] == list(range(19))
    assert categories[13] == {"id": 26, "name": "car", "color": [0, 0, 142], "supercategory": "vehicle", "isthing": 1}


def test_real_deeplab2_cityscapes_panoptic_sample_matches_our_segments(shared_data):
    """google-research/deeplab2's Cityscapes test data (createPanopticImgs --use-train-id style)."""
    folder = shared_data / "cityscapes-deeplab2-dummy/gtFine"
    document = json.loads((folder / "cityscapes_panoptic_dummy_trainId.json").read_text())
    (annotation,) = document["annotations"]
    rgb = np.asarray(Image.open(folder / "cityscapes_panoptic_dummy_trainId" / annotation["file_name"]).convert("RGB"))
    ids = cs.rgb_to_id(rgb)
    stats = cs.segment_stats(cs.column_runs(ids))
    areas = dict(zip(stats.values.tolist(), stats.areas.tolist()))
    for segment in annotation["segments_info"]:
        assert areas[segment["id"]] == segment["area"]
        assert cs.segment_category(segment["id"], train_id=True) == (segment["category_id"], segment["iscrowd"])
    assert set(areas) - {0} == {s["id"] for s in annotation["segments_info"]}


# ---------------------------------------------------------------------- edge-tolerant comparison


def test_mismatches_off_edges_tells_moved_edges_from_damage():
    expected = np.zeros((10, 10), np.uint8)
    expected[3:7, 3:7] = 5
    moved = expected.copy()
    moved[2, 3:7] = 5  # the square grew by one row: every changed pixel has a 5 next to it
    assert mismatches_off_edges(moved, expected) == (4, 0)
    damaged = expected.copy()
    damaged[0, 9] = 5  # far from any 5
    damaged[5, 5] = 9  # a value that is nowhere near
    assert mismatches_off_edges(damaged, expected) == (2, 2)
    assert mismatches_off_edges(expected, expected) == (0, 0)


def test_indexed_rasterisation_gives_the_same_maps_with_more_than_255_objects():
    rng = np.random.default_rng(9)
    document = _random_annotation(rng)
    document["objects"] = document["objects"] * 8  # ~400 drawn objects: the 32-bit index path
    index, values = cs.rasterize_indexed(document, "x")
    assert index.dtype == np.int32 and len(values) > 256
    few = _random_annotation(rng)
    index8, values8 = cs.rasterize_indexed(few, "x")
    assert index8.dtype == np.uint8
    for doc, (idx, vals) in ((document, (index, values)), (few, (index8, values8))):
        annotation = Annotation()
        annotation.fromJsonText(json.dumps(doc))
        assert np.array_equal(np.take(vals, idx), np.asarray(createInstanceImage(annotation, "ids")))
        label_train, instance_train = cs.train_ids_of_indexed(idx, vals)
        assert np.array_equal(label_train, np.asarray(createLabelImage(annotation, "trainIds")))
        assert np.array_equal(instance_train, np.asarray(createInstanceImage(annotation, "trainIds")))


@pytest.mark.parametrize("segments", [0, 1, 5])
def test_dumps_panoptic_is_json_dumps_with_sort_keys_and_indent_4(segments):
    rng = np.random.default_rng(segments)
    images = [{"id": f"a_{i:06d}_000019", "width": 2048, "height": 1024, "file_name": f"a_{i:06d}_000019_gtFine_x.png"}
              for i in range(3)]
    annotations = [{"image_id": image["id"], "file_name": f"{image['id']}_gtFine_panoptic.png", "segments_info": [
        {"id": int(v), "category_id": 26, "area": int(v) % 977, "bbox": [int(b) for b in rng.integers(0, 2000, 4)],
         "iscrowd": int(v) % 2} for v in rng.integers(7, 33999, segments)]} for image in images]
    categories = cs.panoptic_categories()
    expected = json.dumps({"images": images, "annotations": annotations, "categories": categories},
                          sort_keys=True, indent=4).encode()
    assert cs.dumps_panoptic(images, annotations, categories) == expected
    assert cs.dumps_panoptic([], [], categories) == json.dumps(
        {"images": [], "annotations": [], "categories": categories}, sort_keys=True, indent=4).encode()
