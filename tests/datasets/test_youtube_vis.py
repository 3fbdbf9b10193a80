"""YouTube-VIS 2019/2021 end to end: sample -> prepare (archives, extracted, all-frames) -> verify, the
CocoVID conversion against a plain reading of mmtracking's converter, Video K-Net's loader, faults."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.encodings.cocovid import convert, format_stats
from segprep.encodings import youtube_vis as vis
from segprep.errors import BadInput, MissingInput
from segprep.io.images import jpeg_info
from segprep.io.jsonscan import JsonScanner
from segprep.datasets.youtube_vis.sample import VIDEOS, ellipse_rle, video_name, write_large_json
from ytvis_reference import reference_bytes, reference_cocovid

FRAMES = 4
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2
SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="session")
def raw19(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ytvis") / "raw19"
    api.sample("youtube-vis-2019", out, options={"frames": FRAMES, "all_frames": True}, jobs=2)
    return out


@pytest.fixture(scope="session")
def prepared19(raw19, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("ytvis") / "data"
    summary = api.prepare("youtube-vis-2019", raw19, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


@pytest.fixture(scope="session")
def extracted19(raw19, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ytvis") / "extracted19"
    out.mkdir()
    for split in SPLITS:
        shutil.copy(raw19 / f"{split}.json", out)
        with zipfile.ZipFile(raw19 / f"{split}.zip") as zf:
            zf.extractall(out)
    return out


def expected_files(year: str, all_frames: bool = False) -> set[str]:
    names = set()
    for split, videos in VIDEOS.items():
        names |= {f"annotations/{split}.json", f"annotations/youtube_vis_{year}_{split}.json"}
        for index in range(len(videos)):
            step = 1 if all_frames else 5
            for t in range(0, (FRAMES - 1) * 5 + 1, step):
                names.add(f"{split}/JPEGImages/{video_name(year, split, index)}/{t:05d}.jpg")
    return names


def load(path: Path) -> dict:
    return json.loads(path.read_bytes())


# ---------------------------------------------------------------------------- a reader built like Video K-Net's


class VideoKNetCocoVID(COCO):
    """The index of Video K-Net's mmtrack/datasets/parsers/coco_video_parser.py (CocoVID), rebuilt on pycocotools."""

    def createIndex(self):  # noqa: N802 (pycocotools' name)
        self.anns, self.cats, self.imgs, self.videos = {}, {}, {}, {}
        self.imgToAnns, self.catToImgs = defaultdict(list), defaultdict(list)
        self.vidToImgs, self.vidToInstances, self.instancesToImgs = defaultdict(list), defaultdict(list), defaultdict(list)
        for video in self.dataset.get("videos", []):
            self.videos[video["id"]] = video
        for ann in self.dataset.get("annotations", []):
            self.imgToAnns[ann["image_id"]].append(ann)  # KeyError 'image_id' on an unconverted file
            self.anns[ann["id"]] = ann
            self.instancesToImgs[ann["instance_id"]].append(ann["image_id"])
            if ann["instance_id"] not in self.vidToInstances[ann["video_id"]]:
                self.vidToInstances[ann["video_id"]].append(ann["instance_id"])
        for image in self.dataset.get("images", []):
            self.vidToImgs[image["video_id"]].append(image)
            self.imgs[image["id"]] = image
        for cat in self.dataset.get("categories", []):
            self.cats[cat["id"]] = cat
        for ann in self.dataset.get("annotations", []):
            self.catToImgs[ann["category_id"]].append(ann["image_id"])

    def get_img_ids_from_vid(self, video_id):
        infos = self.vidToImgs[video_id]
        ids = list(np.zeros([len(infos)], dtype=np.int64))
        for info in infos:
            ids[info["frame_id"]] = info["id"]  # IndexError unless frame ids are 0..n-1
        return ids


def videoknet_load(ann_file: Path, year: str, img_prefix: Path, load_all_frames: bool) -> list:
    """CocoVideoDataset.load_video_anns + _parse_ann_info for every frame; returns per video [(image, parsed)]."""
    classes = vis.CATEGORIES[year]
    coco = VideoKNetCocoVID(str(ann_file))
    cat_ids = coco.getCatIds(catNms=list(classes))
    cat2label = {cat_id: i for i, cat_id in enumerate(cat_ids)}
    assert cat_ids == list(range(1, 41))  # format_results writes category_id = label + 1
    videos = []
    for video_id in list(coco.videos):
        img_ids = coco.get_img_ids_from_vid(video_id)
        assert 0 not in img_ids  # every frame placed
        infos = coco.loadImgs(img_ids)
        if load_all_frames:
            infos = [infos[0], *infos]
            assert [i["frame_id"] for i in infos[1:]] == list(range(len(img_ids)))
        frames = []
        for info in infos:
            assert (img_prefix / info["file_name"]).is_file()
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]], catIds=cat_ids))
            parsed = []
            for ann in anns:
                x, y, w, h = ann["bbox"]
                if ann["area"] <= 0 or w < 1 or h < 1 or ann.get("iscrowd"):
                    continue
                parsed.append((cat2label[ann["category_id"]], ann["instance_id"], coco.annToMask(ann), ann))
            frames.append((info, parsed))
        videos.append(frames)
    return videos


# ---------------------------------------------------------------------------- the happy paths


def test_archives_give_exactly_the_expected_files_with_unchanged_bytes(raw19, prepared19):
    root = prepared19 / "youtube_vis_2019"
    assert set(tree_bytes(root)) == expected_files("2019")
    for split in SPLITS:
        assert (root / f"annotations/{split}.json").read_bytes() == (raw19 / f"{split}.json").read_bytes()
        with zipfile.ZipFile(raw19 / f"{split}.zip") as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    assert (root / info.filename).read_bytes() == zf.read(info)
    assert api.verify("youtube-vis-2019", prepared19, jobs=2, quiet=True).ok


@pytest.mark.parametrize("split", SPLITS)
def test_cocovid_is_byte_identical_to_a_plain_reading_of_mmtrackings_converter(raw19, prepared19, split):
    ours = (prepared19 / f"youtube_vis_2019/annotations/youtube_vis_2019_{split}.json").read_bytes()
    assert ours == reference_bytes(raw19 / f"{split}.json", split)
    reference = reference_cocovid(json.loads((raw19 / f"{split}.json").read_bytes()), split)
    dumped = io.StringIO()
    json.dump(reference, dumped)  # what mmcv.dump does: json.dump to the file
    assert ours == dumped.getvalue().encode()
    document = json.loads(ours)
    assert list(document) == (["categories", "videos", "images", "annotations"] if split == "train"
                              else ["categories", "videos", "images"])


def test_numbering_and_instance_ids_follow_first_appearance(raw19, prepared19):
    official = load(raw19 / "train.json")
    cocovid = load(prepared19 / "youtube_vis_2019/annotations/youtube_vis_2019_train.json")
    assert [v["id"] for v in cocovid["videos"]] == [v["id"] for v in official["videos"]]
    assert [i["id"] for i in cocovid["images"]] == list(range(1, 1 + len(VIDEOS["train"]) * FRAMES))
    assert [a["id"] for a in cocovid["annotations"]] == list(range(1, 1 + len(cocovid["annotations"])))
    # official track 1 is first in the json but absent from frame 0: it gets its instance id after frame 0's objects
    first_track = official["annotations"][0]
    assert first_track["segmentations"][0] is None and any(first_track["segmentations"])
    frame0 = {a["instance_id"] for a in cocovid["annotations"] if a["image_id"] == 1}
    track1 = {a["instance_id"] for a in cocovid["annotations"]
              if a["video_id"] == 1 and a["area"] == next(x for x in first_track["areas"] if x)}
    assert frame0 == set(range(1, len(frame0) + 1)) and min(track1) > max(frame0)
    # every official track is one instance, frame by frame
    by_instance = defaultdict(list)
    for ann in cocovid["annotations"]:
        by_instance[ann["instance_id"]].append(ann)
    assert len(by_instance) == len(official["annotations"])
    for track in official["annotations"]:
        present = [(f, seg) for f, seg in enumerate(track["segmentations"]) if seg is not None]
        matches = [anns for anns in by_instance.values() if [a["segmentation"] for a in anns] == [s for _, s in present]]
        assert len(matches) == 1 and all(a["category_id"] == track["category_id"] for a in matches[0])


def test_videoknet_style_reader_loads_train_and_valid(prepared19):
    root = prepared19 / "youtube_vis_2019"
    train = videoknet_load(root / "annotations/youtube_vis_2019_train.json", "2019", root / "train/JPEGImages", False)
    assert len(train) == 2 and all(len(frames) == FRAMES for frames in train)
    labels = set()
    for frames in train:
        tracks = defaultdict(set)
        for info, parsed in frames:
            image = Image.open(root / "train/JPEGImages" / info["file_name"])
            assert image.size == (info["width"], info["height"])
            for label, instance_id, mask, ann in parsed:
                assert mask.shape == (info["height"], info["width"]) and mask.sum() == ann["area"]
                tracks[instance_id].add(label)
                labels.add(label)
        assert all(len(v) == 1 for v in tracks.values())  # an instance keeps its class
    assert labels == {0, 5}  # person, sedan
    valid = videoknet_load(root / "annotations/youtube_vis_2019_valid.json", "2019", root / "valid/JPEGImages", True)
    assert len(valid) == 1 and len(valid[0]) == FRAMES + 1 and all(not parsed for _, parsed in valid[0])


def test_2021_end_to_end_from_zips_holding_frames_and_instances_json(tmp_path):
    raw = tmp_path / "raw"
    api.sample("youtube-vis-2021", raw, options={"frames": FRAMES}, jobs=2)
    assert sorted(os.listdir(raw)) == ["test.zip", "train.zip", "valid.zip"]
    summary = api.prepare("youtube-vis-2021", raw, tmp_path / "data", jobs=2, quiet=True)
    assert summary.ok, summary.failures
    root = tmp_path / "data/youtube_vis_2021"
    assert set(tree_bytes(root)) == expected_files("2021")
    with zipfile.ZipFile(raw / "train.zip") as zf:
        assert (root / "annotations/train.json").read_bytes() == zf.read("train/instances.json")
        (tmp_path / "train.json").write_bytes(zf.read("train/instances.json"))
    assert (root / "annotations/youtube_vis_2021_train.json").read_bytes() == reference_bytes(tmp_path / "train.json",
                                                                                              "train")
    train = videoknet_load(root / "annotations/youtube_vis_2021_train.json", "2021", root / "train/JPEGImages", False)
    assert {label for frames in train for _, parsed in frames for label, *_ in parsed} == {4, 25}  # car, person
    assert api.verify("youtube-vis-2021", tmp_path / "data", jobs=2, quiet=True).ok
    with pytest.raises(BadInput, match="youtube-vis-2021"):  # the wrong recipe says which one to use
        api.prepare("youtube-vis-2019", raw, tmp_path / "other", quiet=True)


def test_extracted_download_is_linked_and_equals_the_archive_result(extracted19, prepared19, tmp_path):
    before = tree_bytes(extracted19)
    summary = api.prepare("youtube-vis-2019", extracted19, tmp_path, jobs=2, quiet=True)
    assert summary.ok
    assert tree_bytes(tmp_path / "youtube_vis_2019") == tree_bytes(prepared19 / "youtube_vis_2019")
    frame = f"train/JPEGImages/{video_name('2019', 'train', 0)}/00005.jpg"
    assert os.stat(tmp_path / "youtube_vis_2019" / frame).st_ino == os.stat(extracted19 / frame).st_ino
    assert os.stat(tmp_path / "youtube_vis_2019/annotations/train.json").st_ino == os.stat(
        extracted19 / "train.json").st_ino
    assert tree_bytes(extracted19) == before


def test_all_frames_archives_alone_give_the_same_result_and_all_frames_adds_the_rest(raw19, prepared19, tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    for split in SPLITS:
        shutil.copy(raw19 / f"{split}.json", src)
        shutil.copy(raw19 / f"{split}_all_frames.zip", src)
    assert api.prepare("youtube-vis-2019", src, tmp_path / "a", jobs=2, quiet=True).ok
    assert tree_bytes(tmp_path / "a/youtube_vis_2019") == tree_bytes(prepared19 / "youtube_vis_2019")
    summary = api.prepare("youtube-vis-2019", src, tmp_path / "b", options={"all_frames": True}, jobs=2, quiet=True)
    assert summary.ok
    root = tmp_path / "b/youtube_vis_2019"
    assert set(tree_bytes(root)) == expected_files("2019", all_frames=True)
    with zipfile.ZipFile(raw19 / "valid_all_frames.zip") as zf:
        name = f"{video_name('2019', 'valid', 0)}/00007.jpg"
        assert (root / "valid/JPEGImages" / name).read_bytes() == zf.read(f"valid_all_frames/JPEGImages/{name}")
    assert api.verify("youtube-vis-2019", tmp_path / "b", jobs=2, quiet=True).ok
    only_annotated = _only(raw19, tmp_path / "c", ["train.json", "train.zip"])
    with pytest.raises(MissingInput, match="all_frames"):
        api.prepare("youtube-vis-2019", only_annotated, tmp_path / "d", options={"all_frames": True}, quiet=True)


def _only(raw: Path, dest: Path, names: list[str]) -> Path:
    dest.mkdir()
    for name in names:
        shutil.copy(raw / name, dest)
    return dest


def test_a_rerun_skips_everything(raw19, prepared19):
    summary = api.prepare("youtube-vis-2019", raw19, prepared19, jobs=2, quiet=True)
    assert (summary.written, summary.skipped) == (0, len(expected_files("2019")))


def test_statistics_count_every_category_and_a_missing_split_file_is_skipped(raw19, tmp_path, capsys):
    src = _only(raw19, tmp_path / "raw", ["train.json", "train.zip", "valid.json", "valid.zip", "test.zip"])
    code = main(["prepare", "youtube-vis-2019", "--raw", str(src), "--data", str(tmp_path / "data"), "-j", "2"])
    err = capsys.readouterr().err
    assert code == 0
    assert "no test.json found, the test split is skipped" in err
    train = load(raw19 / "train.json")
    sedans = sum(1 for a in train["annotations"] if a["category_id"] == 6 for b in a["bboxes"] if b is not None)
    assert "has 0 objects" not in err and re.search(rf"\b6 sedan +{sedans} objects", err)  # compact: classes with objects
    assert "classes have no objects (--verbose lists every class)" in err
    shutil.rmtree(tmp_path / "data")
    main(["prepare", "youtube-vis-2019", "--raw", str(src), "--data", str(tmp_path / "data"), "-j", "2", "--verbose"])
    err = capsys.readouterr().err
    assert "Class 2 giant_panda has 0 objects." in err  # mmtracking dies here with a KeyError
    assert f"Class 6 sedan has {sedans} objects." in err
    assert "-----YouTube VIS 2019 valid------" in err
    assert not (tmp_path / "data/youtube_vis_2019/test").exists()
    assert api.verify("youtube-vis-2019", tmp_path / "data", quiet=True).ok  # test is optional
    with pytest.raises(MissingInput, match="no test.json"):
        api.prepare("youtube-vis-2019", src, tmp_path / "data", options={"splits": "test"}, quiet=True)


# ---------------------------------------------------------------------------- the real files in ../shared/data


def test_real_trimmed_jsons_convert_to_the_cocovid_schema(shared_data, tmp_path):
    folder = shared_data / "youtube-vis-tfds-dummy"
    demo = load(shared_data / "mmtracking-cocovid-sample/ann.json")
    for split in SPLITS:
        with open(folder / f"{split}.json", "rb") as f:
            chunks, stats = convert(f, f"{split}.json", "2019", split)
            data = b"".join(chunks)
        assert "no 'categories'" in stats["notes"][0]  # TFDS trimmed them; the official list is used
        assert data == reference_bytes(folder / f"{split}.json", split, vis.official_categories("2019"))
        document = json.loads(data)
        official = load(folder / f"{split}.json")
        video = official["videos"][0]
        for key in ("categories", "videos", "images"):  # the record layout of mmtracking's own sample
            assert list(document[key][0]) == list(demo[key][0])
        assert document["videos"] == [{"id": video["id"], "name": video["file_names"][0].split("/")[0],
                                       "width": 1280, "height": 720}]
        assert [(i["id"], i["frame_id"], i["file_name"]) for i in document["images"]] == [
            (k + 1, k, name) for k, name in enumerate(video["file_names"])]
        if split != "train":
            assert "annotations" not in document
            continue
        assert list(document["annotations"][0]) == list(demo["annotations"][0])
        # official id 2 is seen from frame 2, id 1 from frame 8: instance ids follow first appearance
        first = {a["instance_id"]: a["image_id"] for a in reversed(document["annotations"])}
        assert first == {1: 3, 2: 9}
        assert len(document["annotations"]) == stats["objects"] == 30
        assert all(isinstance(a["segmentation"]["counts"], list) for a in document["annotations"])
        (tmp_path / "train.json").write_bytes(data)
        coco = VideoKNetCocoVID(str(tmp_path / "train.json"))
        assert coco.get_img_ids_from_vid(1) == list(range(1, 21))
        assert coco.vidToInstances[1] == [1, 2]
        for ann in document["annotations"]:
            rle = mask_utils.frPyObjects(ann["segmentation"], 720, 1280)
            assert int(mask_utils.area(rle)) == ann["area"] and list(mask_utils.toBbox(rle)) == ann["bbox"]
    assert "Class 6 sedan has 0 objects." not in format_stats("2019", stats)


# ---------------------------------------------------------------------------- the converter alone


def official_document(categories=True, order=("info", "videos", "categories", "annotations")) -> dict:
    videos = [{"id": 7, "width": 4, "height": 3, "length": 3, "file_names": ["aa/00000.jpg", "aa/00005.jpg",
                                                                             "aa/00010.jpg"]},
              {"id": 3, "width": 2, "height": 2, "length": 2, "file_names": ["bb/00000.jpg", "bb/00005.jpg"]}]
    seg = {"counts": [1, 2, 9], "size": [3, 4]}
    tracks = [
        {"id": 1, "video_id": 7, "category_id": 2, "iscrowd": 0, "segmentations": [None, seg, seg],
         "bboxes": [None, [0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 1.0, 2.0]], "areas": [None, 2, 2]},
        {"id": 2, "video_id": 7, "category_id": 1, "iscrowd": 0, "segmentations": [seg, None, None],
         "bboxes": [[0.0, 1.0, 1.0, 2.0], None, None], "areas": [2, None, None]},
        {"id": 1, "video_id": 3, "category_id": 3, "iscrowd": 1, "segmentations": [None, {"counts": [4], "size": [2, 2]}],
         "bboxes": [None, [0.0, 0.0, 0.0, 0.0]], "areas": [None, 0]},
    ]
    parts = {"info": {"description": "caf\u00e9 \u6771\u4eac"}, "videos": videos, "annotations": tracks,
             "categories": vis.official_categories("2019")}
    return {k: parts[k] for k in order if k != "categories" or categories}


@pytest.mark.parametrize("order", [("info", "videos", "categories", "annotations"),
                                   ("annotations", "categories", "info", "videos")])
@pytest.mark.parametrize("window", [16, 1 << 20])
def test_conversion_in_any_key_order_and_any_window(tmp_path, order, window, monkeypatch):
    monkeypatch.setattr("segprep.io.jsonscan.DEFAULT_WINDOW", window)
    path = tmp_path / "train.json"
    path.write_text(json.dumps(official_document(order=order), indent=1, ensure_ascii=False), encoding="utf-8")
    with open(path, "rb") as f:
        chunks, stats = convert(f, "train.json", "2019", "train")
        data = b"".join(chunks)
    assert data == reference_bytes(path, "train")
    document = json.loads(data)
    assert [(a["image_id"], a["instance_id"], a["category_id"]) for a in document["annotations"]] == [
        (1, 1, 1), (2, 2, 2), (3, 2, 2), (5, 3, 3)]
    assert (stats["objects"], stats["instances"], stats["images"]) == (4, 3, 5)


def test_rle_text_is_copied_only_when_it_is_what_json_dumps_writes(tmp_path):
    path = tmp_path / "train.json"
    text = json.dumps(official_document())
    assert text.count('"counts": [1, 2, 9]') == 3
    path.write_text(text.replace('"counts": [1, 2, 9]', '"counts": [1,2, 9]', 1))  # valid JSON, other spacing
    with open(path, "rb") as f:
        assert b"".join(convert(f, "t", "2019", "train")[0]) == reference_bytes(path, "train")
    path.write_text(text.replace('"counts": [1, 2, 9]', '"counts": [1, 02, 9]', 1))  # not JSON: refused
    with open(path, "rb") as f, pytest.raises(BadInput, match="cannot decode"):
        b"".join(convert(f, "t", "2019", "train")[0])


def test_converter_edge_cases_match_the_reference_or_are_named(tmp_path):
    path = tmp_path / "train.json"
    document = official_document()
    document["annotations"] = []  # a train split without objects: no 'annotations' key, as mmtracking writes it
    path.write_text(json.dumps(document))
    with open(path, "rb") as f:
        assert b"".join(convert(f, "t", "2019", "train")[0]) == reference_bytes(path, "train")
    bad_cases = [
        (lambda d: d["annotations"][0]["segmentations"].__setitem__(1, None), "frame 1 has a box but no segmentation"),
        (lambda d: d["annotations"][0].__setitem__("video_id", 99), "no video has this id"),
        (lambda d: d["annotations"][0]["bboxes"].pop(), "but the video lists 3 frames"),
        (lambda d: d["videos"][0].__setitem__("file_names", ["../../etc/passwd.jpg"]), "is not '<video>/<frame>.jpg'"),
        (lambda d: d.__setitem__("categories", vis.official_categories("2021")), "youtube-vis-2021"),
        (lambda d: d.__setitem__("videos", {"aa": {"objects": {}}}), "YouTube-VOS"),
    ]
    for damage, message in bad_cases:
        document = official_document()
        damage(document)
        path.write_text(json.dumps(document))
        with open(path, "rb") as f, pytest.raises(BadInput, match=message.replace(".", r"\.")):
            convert(f, "t", "2019", "train")
    path.write_bytes(json.dumps(official_document()).encode()[:-40])
    with open(path, "rb") as f, pytest.raises(BadInput, match="not valid JSON at byte"):
        convert(f, "t", "2019", "train")


_PEAK_SCRIPT = """
import json, sys
import segprep.io.jsonscan as jsonscan
from segprep.encodings.cocovid import convert

def kb(field):
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith(field)).split()[1])

jsonscan.DEFAULT_WINDOW = 1 << 20
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) starts again from here
before = kb("VmRSS:")
with open(sys.argv[1], "rb") as f:
    if sys.argv[2] == "load":
        objects = json.load(f)
        written = 0
    else:
        chunks, stats = convert(f, "train.json", "2019", "train")
        written = sum(len(c) for c in chunks)
print((kb("VmHWM:") - before) * 1024, written)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to measure peak memory")
def test_the_conversion_never_holds_the_file(tmp_path):
    path = tmp_path / "train.json"
    size = write_large_json(path, "2019", target_bytes=16 << 20)["bytes"]

    def peak_growth(how: str) -> tuple[int, int]:
        run = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(path), how], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return tuple(int(v) for v in run.stdout.split())

    converted, written = peak_growth("convert")
    loaded, _ = peak_growth("load")
    assert written > size // 2
    assert loaded > 2 * size  # the measurement sees a plain json.load ...
    assert converted < size // 2  # ... and the conversion holds neither file: a window and one video


def test_scanner_spans_reread_exactly_and_non_ascii_is_decoded(tmp_path):
    values = [{"a": "\u00e9t\u00e9"}, [1, 2.5, None], "x" * 50, 12345678901234567890, {"b": {"c": [True, False]}}]
    data = json.dumps({"k": values, "s": "\u6771"}, ensure_ascii=False).encode()
    scanner = JsonScanner(io.BytesIO(data), "t.json", window=8)
    seen = {}
    for member in scanner.members():
        if member.key == "k":
            seen["k"] = [(v, scanner.load(a, b)) for a, b, v in member.elements()]
        else:
            seen[member.key] = member.value()
    assert [v for v, _ in seen["k"]] == values == [v for _, v in seen["k"]]
    assert seen["s"] == "\u6771"
    with pytest.raises(BadInput, match="after the top-level object"):
        list(JsonScanner(io.BytesIO(b'{"a": 1} x'), "t").members())


def test_rle_helpers_agree_with_pycocotools():
    rng = np.random.default_rng(3)
    for _ in range(5):
        mask = rng.random((13, 9)) > 0.6
        rle = vis.rle_encode(mask)
        assert sum(rle["counts"]) == mask.size
        assert np.array_equal(mask_utils.decode(mask_utils.frPyObjects(rle, 13, 9)), mask)
        compressed = mask_utils.frPyObjects(rle, 13, 9)
        assert vis.mask_bbox(mask) == list(mask_utils.toBbox(compressed))
    counts, area, box = ellipse_rle(40.3, 20.7, 15.2, 9.9, 64, 48)
    mask = mask_utils.decode(mask_utils.frPyObjects({"counts": counts, "size": [48, 64]}, 48, 64))
    assert mask.sum() == area and vis.mask_bbox(mask) == box
    assert vis.rle_encode(np.ones((2, 2), bool))["counts"] == [0, 4]


def test_jpeg_info_catches_truncation():
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(buffer, "JPEG")
    data = buffer.getvalue()
    assert (jpeg_info(data, "x.jpg").width, jpeg_info(data, "x.jpg").height) == (60, 40)
    for cut in (1, 30, len(data) // 2, len(data) - 1):
        with pytest.raises(BadInput, match="x.jpg"):
            jpeg_info(data[:cut], "x.jpg")


# ---------------------------------------------------------------------------- faults


def test_youtube_vos_downloads_are_refused_plainly(tmp_path):
    vos = tmp_path / "vos"
    (vos / "train/JPEGImages/abc").mkdir(parents=True)
    (vos / "train/Annotations/abc").mkdir(parents=True)
    (vos / "train/meta.json").write_text('{"videos": {"abc": {"objects": {}}}}')
    with pytest.raises(BadInput, match="YouTube-VOS"):
        api.prepare("youtube-vis-2019", vos, tmp_path / "data", quiet=True)
    archive = tmp_path / "vos_zip"
    archive.mkdir()
    with zipfile.ZipFile(archive / "train.zip", "w") as zf:
        zf.writestr("train/meta.json", "{}")
        zf.writestr("train/Annotations/abc/00000.png", b"")
        zf.writestr("train/JPEGImages/abc/00000.jpg", b"")
    with pytest.raises(BadInput, match="YouTube-VOS"):
        api.prepare("youtube-vis-2021", archive, tmp_path / "data", quiet=True)
    with pytest.raises(MissingInput, match="train.json.*codalab"):
        api.prepare("youtube-vis-2019", tmp_path / "vos/train/JPEGImages", tmp_path / "data", quiet=True)


def test_killed_run_resumes_to_byte_identical_output(raw19, prepared19, tmp_path):
    src = _only(raw19, tmp_path / "raw", [f"{s}{e}" for s in SPLITS for e in (".json", ".zip")])
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "youtube-vis-2019", "--raw", str(src), "--data", str(data),
           "--jobs", "2", "--quiet"]
    out_dir = data / "youtube_vis_2019"
    kill_part_way(cmd, out_dir, files=6, delay_ms=250)
    partial = sum(1 for name in tree_bytes(out_dir) if ".segprep-tmp" not in name)
    assert 6 <= partial < len(expected_files("2019")), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(out_dir) == tree_bytes(prepared19 / "youtube_vis_2019")


def test_damaged_and_missing_frames_fail_alone_and_the_jsons_are_written(extracted19, tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(extracted19, src)
    video = video_name("2019", "train", 1)
    truncated = src / f"train/JPEGImages/{video}/00010.jpg"
    truncated.write_bytes(truncated.read_bytes()[:3000])
    (src / f"valid/JPEGImages/{video_name('2019', 'valid', 0)}/00005.jpg").unlink()
    code = main(["prepare", "youtube-vis-2019", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{truncated} is truncated" in out and "valid json is in none of" in out
    written = set(tree_bytes(tmp_path / "data/youtube_vis_2019"))
    assert written == expected_files("2019") - {f"train/JPEGImages/{video}/00010.jpg",
                                                f"valid/JPEGImages/{video_name('2019', 'valid', 0)}/00005.jpg"}


def test_a_truncated_json_fails_its_conversion_only_and_a_hostile_archive_is_refused(raw19, extracted19, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted19, src)
    official = src / "train.json"
    official.write_bytes(official.read_bytes()[:-5000])  # the videos come first: the plan still reads them
    summary = api.prepare("youtube-vis-2019", src, tmp_path / "data", jobs=2, quiet=True)
    # the conversion fails, and the official copy is not placed truncated (issue 15: outputs stay correct)
    failed = sorted(summary.failures, key=lambda f: f.key)
    assert [f.key for f in failed] == ["annotations/train.json", "annotations/youtube_vis_2019_train.json"]
    assert all("train.json: not valid JSON at byte" in f.error for f in failed)
    assert summary.written == len(expected_files("2019")) - 2
    hostile = _only(raw19, tmp_path / "hostile", ["train.json", "valid.json", "valid.zip"])
    with zipfile.ZipFile(hostile / "train.zip", "w") as zf:
        zf.writestr("train/JPEGImages/../../../../etc/cron.d/x.jpg", b"x")
    with pytest.raises(BadInput, match=r"etc/cron\.d/x\.jpg"):
        api.prepare("youtube-vis-2019", hostile, tmp_path / "data2", quiet=True)
    assert not (tmp_path / "data2").exists()


def test_frames_of_another_size_are_refused(extracted19, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted19, src)
    frame = src / f"test/JPEGImages/{video_name('2019', 'test', 0)}/00000.jpg"
    Image.open(frame).resize((100, 50)).save(frame, "JPEG")
    summary = api.prepare("youtube-vis-2019", src, tmp_path / "data", jobs=1, quiet=True)
    assert [f.key for f in summary.failures] == [f"test/JPEGImages/{video_name('2019', 'test', 0)}/00000.jpg"]
    assert "is 100x50, its json says 480x272" in summary.failures[0].error


# ---------------------------------------------------------------------------- verify finds problems


def test_verify_reports_each_kind_of_damage(prepared19, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared19 / "youtube_vis_2019", data / "youtube_vis_2019")
    root = data / "youtube_vis_2019"
    train = root / "annotations/youtube_vis_2019_train.json"
    document = load(train)
    document["annotations"][3]["area"] += 1
    document["annotations"][4]["bbox"][0] += 1
    document["annotations"][5]["segmentation"]["counts"][-1] += 7
    document["annotations"][6]["image_id"] = 999
    train.write_text(json.dumps(document))
    valid = root / "annotations/youtube_vis_2019_valid.json"
    document = load(valid)
    document["images"][2]["frame_id"] = 5
    document["categories"][0]["name"] = "human"
    valid.write_text(json.dumps(document))
    video = video_name("2019", "test", 0)
    (root / f"test/JPEGImages/{video}/00010.jpg").unlink()
    damaged = root / f"test/JPEGImages/{video}/00015.jpg"
    damaged.write_bytes(damaged.read_bytes()[:2000])
    (root / f"test/JPEGImages/{video}/notes.txt").write_text("x")
    report = api.verify("youtube-vis-2019", data, jobs=2, quiet=True)
    failed = {(f.check, f.path, f.message.split(",")[0].split(" (")[0]) for f in report.findings}
    rel = "annotations/youtube_vis_2019_train.json"
    assert any(p == f"{rel}: annotation 4" and m.startswith("area") for c, p, m in failed)
    assert any(p.endswith("annotation 5") and m.startswith("bbox") for c, p, m in failed)
    assert any(p.endswith("annotation 6") and "cover the image" in m for c, p, m in failed)
    assert any(p.endswith("annotation 7") and "no image 999" in m for c, p, m in failed)
    assert ("matches official", rel) in {(c, p) for c, p, _ in failed}
    assert ("frame ids", "annotations/youtube_vis_2019_valid.json") in {(c, p) for c, p, _ in failed}
    assert ("categories", "annotations/youtube_vis_2019_valid.json") in {(c, p) for c, p, _ in failed}
    assert ("frames exist", f"test/JPEGImages/{video}/00010.jpg") in {(c, p) for c, p, _ in failed}
    assert ("decode", f"test/JPEGImages/{video}/00015.jpg") in {(c, p) for c, p, _ in failed}
    assert ("layout", f"test/JPEGImages/{video}/notes.txt") in {(c, p) for c, p, _ in failed}
    assert main(["verify", "youtube-vis-2019", "--data", str(data), "--quiet"]) == 1


def test_verify_official_compares_with_the_published_counts(prepared19, capsys):
    assert main(["verify", "youtube-vis-2019", "--data", str(prepared19), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "train: 2 videos found, 2,238 published" in out
    assert "valid: 1 videos found, 302 published" in out and "test: 1 videos found, 343 published" in out


def test_streamed_writes_are_atomic_and_hashed(tmp_path):
    from segprep.engine import atomic

    target = tmp_path / "a.json"
    size, digest, _, _ = atomic.write_chunks(target, iter([b"{", b"}"]))
    assert (size, digest, target.read_bytes()) == (2, atomic.digest(b"{}"), b"{}")

    def broken():
        yield b"[1, "
        raise BadInput("the source ended")

    with pytest.raises(BadInput):
        atomic.write_chunks(target, broken())
    assert target.read_bytes() == b"{}" and os.listdir(tmp_path) == ["a.json"]


def test_list_raw_sees_optional_other_year_and_vos_downloads(raw19, tmp_path):
    from segprep.datasets.youtube_vis_2019 import YouTubeVIS2019
    from segprep.datasets.youtube_vis_2021 import YouTubeVIS2021
    from segprep.inventory import complete, inspect

    assert {f.download.filename: f.status for f in inspect(YouTubeVIS2019(), raw19)} == {
        name: "found" for name in ("train.json", "valid.json", "test.json", "train.zip", "valid.zip", "test.zip")}
    without_test = _only(raw19, tmp_path / "a", ["train.json", "valid.json", "train.zip", "valid_all_frames.zip"])
    found = inspect(YouTubeVIS2019(), without_test)
    assert complete(found) and {f.download.filename for f in found if f.status == "missing"} == {"test.json",
                                                                                                 "test.zip"}
    wrong = [f for f in inspect(YouTubeVIS2021(), raw19) if f.status == "wrong"]
    assert not complete(inspect(YouTubeVIS2021(), raw19)) and "youtube-vis-2019" in wrong[0].detail
    (without_test / "train").mkdir()
    (without_test / "train/meta.json").write_text("{}")
    assert [f.status for f in inspect(YouTubeVIS2019(), without_test) if "meta.json" in f.download.filename] == [
        "wrong"]


def test_report_section_counts_classes_and_draws_tracks(prepared19):
    from segprep.datasets.youtube_vis_2019 import YouTubeVIS2019
    from segprep.engine.progress import Progress

    section = YouTubeVIS2019().report_section(prepared19 / "youtube_vis_2019", 1, Progress(True))
    counts = {(row.split, row.what): (row.found, row.published) for row in section.counts}
    assert counts[("train", "videos")] == (2, 2238) and counts[("valid", "frames")] == (FRAMES, None)
    official = load(prepared19 / "youtube_vis_2019/annotations/train.json")
    persons = [t for t in official["annotations"] if t["category_id"] == 1]
    assert section.stats.instances[0] == len(persons)
    assert section.stats.pixels[0] == sum(a for t in persons for a in t["areas"] if a)
    assert len(section.frames) == 2 and len(section.strips[0]) == FRAMES
    for view in section.frames + section.strips[0]:
        assert view.segments.shape == view.image.shape[:2]
        assert set(view.category_of.values()) <= {0, 5} and view.category_of
        assert set(np.unique(view.segments).tolist()) - {0} == set(view.category_of)
