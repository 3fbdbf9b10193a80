"""A miniature Cityscapes-VPS download (and the Cityscapes-DVPS depth archive).

* ``cityscapes-vps-dataset-1.0.zip``: ``cityscapes_vps/`` with the seven released jsons and, for every
  train/val video, the colour maps (``{split}/cls/{id}_final_mask.png``, RGB) and instance maps
  (``{split}/inst/{id}_original_image_instance_greyscale.png``, 16-bit) of its 5 new frames;
* ``leftImg8bit_sequence_trainvaltest.zip``: the 30-frame val snippets of every video, plus train and
  test snippets that a VPS preparation must never read;
* ``gtFine_trainvaltest.zip``: the 20th frames' gtFine files (``color`` RGBA, ``instanceIds`` 16-bit,
  ``labelIds``, ``polygons.json``);
* ``video_sequence.zip`` (Cityscapes-DVPS only): ``video_sequence/{train,val}/{seq}_{frame}_{city}_{seq}_{frame}_depth.png``,
  uint16 metres*256 with 0 where there is no depth.

Videos are street scenes whose cars and people keep their ids over the 30 frames (``samples.scenes``).
Hard cases of the official conversion are drawn in: instance ``k = 0``, a car group without
instance (crowd: void in panoptic_inst), a caravan (an instance of a void class), a person painted
in the rider colour on the new frames (the majority colour decides), a car instance mask wider than
its colour (its road pixels join the car), parking, a dynamic object and the ego vehicle (void).
Video numbers follow the sorted Cityscapes names; splits are interleaved, as in the real release.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from segprep.encodings import cityscapes as cs
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.parallel import imap_ordered
from segprep.io.images import encode_png
from segprep.samples.archives import write_zip
from segprep.samples.scenes import CAR, PERSON, StreetScene

CITIES = ("frankfurt", "lindau", "munster")
SNIPPET = 30
LABELLED_T = (4, 9, 14, 19, 24, 29)  # the 5th, 10th, ..., 30th frame; t = 19 is the Cityscapes (gtFine) frame
GT_T = 19
README = b"Cityscapes miniature sample written by segprep (synthetic content, official layout).\n"
LICENSE = b"Placeholder license of the segprep Cityscapes sample. The real download carries the Cityscapes license.\n"
# Cityscapes trainId of the scene -> labelId
_LABEL_ID = {0: 7, 1: 8, 2: 11, 5: 17, 7: 20, 8: 21, 9: 22, 10: 23, 11: 24, 13: 26, 255: 0}
_RIDER_COLOR = (255, 0, 0)
_CAMERA_HEIGHT = 1.2  # metres, for the synthetic ground-plane depth


@dataclass(frozen=True)
class Video:
    number: int  # 1-based, in sorted Cityscapes order
    split: str
    city: str
    seq: int
    gt_frame: int  # Cityscapes frame number of the annotated (20th) frame

    def frame(self, t: int) -> int:
        return self.gt_frame - GT_T + t

    def stem(self, t: int) -> str:
        return f"{self.city}_{self.seq:06d}_{self.frame(t):06d}"

    def vps_id(self, j: int) -> str:
        return f"{self.number:04d}_{(self.number - 1) * 6 + j + 1:04d}_{self.stem(LABELLED_T[j])}"

    def file_name(self, j: int) -> str:
        return f"{self.vps_id(j)}_{'leftImg8bit' if LABELLED_T[j] == GT_T else 'newImg8bit'}.png"


def make_videos(counts: dict[str, int]) -> list[Video]:
    """The sample's videos: splits interleaved over the sorted snippets, cities in order."""
    slots = sorted((((i + 0.5) / n), split) for split, n in counts.items() for i in range(n))
    total = len(slots)
    out = []
    for index, (_, split) in enumerate(slots):
        city = CITIES[min(index * len(CITIES) // total, len(CITIES) - 1)]
        out.append(Video(index + 1, split, city, index, 19 + 37 * index))
    return out


def write_sample(out: Path, videos: dict[str, int], width: int = 512, jobs: int = 1,
                 depth: bool = False) -> list[Path]:
    height = width // 2
    items = make_videos(videos)
    rendered: dict[tuple[int, int], dict] = {}
    work = [(v, t, width, height) for v in items for t in range(SNIPPET)]

    def sequence_members():
        yield "README", README
        yield "license.txt", LICENSE
        for split, city in (("test", "berlin"), ("train", "aachen")):  # never to be read by a VPS preparation
            scene = StreetScene(seed=hash_seed(city), height=height, width=width)
            for t in range(3):
                yield (f"leftImg8bit_sequence/{split}/{city}/{city}_000000_{t:06d}_leftImg8bit.png",
                       encode_png(scene.render(t).rgb, compress_level=1))
        # the videos are in sorted Cityscapes order: the val members stream out sorted, one at a time
        for (video, t, _, _), result in zip(work, imap_ordered(render_frame, work, jobs)):
            if isinstance(result, Exception):
                raise result
            if t in LABELLED_T:
                rendered[(video.number, t)] = {k: v for k, v in result.items() if k != "photo"}
            yield f"leftImg8bit_sequence/val/{video.city}/{video.stem(t)}_leftImg8bit.png", result["photo"]

    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / "leftImg8bit_sequence_trainvaltest.zip", sequence_members())
    gt, vps_members = [], []
    for video in items:
        for j, t in enumerate(LABELLED_T):
            frame = rendered[(video.number, t)]
            if t == GT_T:
                base = f"gtFine/val/{video.city}/{video.stem(t)}_gtFine_"
                gt += [(base + "color.png", frame["gt_color"]), (base + "instanceIds.png", frame["instance"]),
                       (base + "labelIds.png", frame["label_ids"]), (base + "polygons.json", frame["polygons"])]
            elif video.split != "test":
                vps_members += [
                    (f"cityscapes_vps/{video.split}/cls/{video.vps_id(j)}_final_mask.png", frame["color"]),
                    (f"cityscapes_vps/{video.split}/inst/{video.vps_id(j)}_original_image_instance_greyscale.png",
                     frame["instance"])]
    write_zip(out / "gtFine_trainvaltest.zip", [("README", README), ("license.txt", LICENSE)] + sorted(gt))
    jsons = released_jsons(items, rendered, width, height)
    write_zip(out / "cityscapes-vps-dataset-1.0.zip",
              sorted([(f"cityscapes_vps/{name}", data) for name, data in jsons.items()] + vps_members))
    written = [out / n for n in ("cityscapes-vps-dataset-1.0.zip", "leftImg8bit_sequence_trainvaltest.zip",
                                 "gtFine_trainvaltest.zip")]
    if depth:
        write_zip(out / "video_sequence.zip", depth_members(items, rendered))
        written.append(out / "video_sequence.zip")
    return written


def hash_seed(text: str) -> int:
    return zlib.crc32(text.encode())


@lru_cache(maxsize=4)
def _scene(number: int, height: int, width: int) -> StreetScene:
    return StreetScene(seed=number, height=height, width=width)


def render_frame(item: tuple[Video, int, int, int]) -> dict:
    """The photo of one snippet frame and, for the labelled ones, its maps (PNG bytes) and depth."""
    video, t, width, height = item
    scene = _scene(video.number, height, width)
    frame = scene.render(t, void_ring=1)
    out = {"photo": encode_png(frame.rgb, compress_level=1)}
    if t not in LABELLED_T:
        return out
    label_ids, instance = label_maps(video, scene, frame.semantic, frame.instance, height)
    palette = _palette()
    color = palette[label_ids]
    if t != GT_T:
        color = color.copy()
        rider = instance == 24 * 1000 + _rider_ident(scene) - 1
        color[rider] = _RIDER_COLOR  # annotated as rider on the new frames, a person in the instance map
        instance = _widen_one_car(instance, label_ids)
    else:
        out["gt_color"] = encode_png(np.dstack([color, np.full(color.shape[:2], 255, np.uint8)]))  # RGBA, as Cityscapes
        out["label_ids"] = encode_png(label_ids)
        out["polygons"] = json.dumps({"imgHeight": height, "imgWidth": width, "objects": []}, indent=4).encode()
    out["color"] = encode_png(color)  # RGB
    out["instance"] = encode_png(instance)
    labelmap, panoptic = vps.vps_labels(color, instance)
    out["instances"] = instance_annotations(panoptic)
    out["depth"] = encode_png(synthetic_depth(labelmap, scene.horizon, width, video.number * 100 + t))
    return out


@lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    palette = np.zeros((256, 3), np.uint8)
    for label in cs.LABELS:
        if label.id >= 0:
            palette[label.id] = label.color
    return palette


def _rider_ident(scene: StreetScene) -> int:
    return min(t.ident for t in scene.things if t.cls == PERSON)


def label_maps(video: Video, scene: StreetScene, semantic: np.ndarray, ident: np.ndarray,
               height: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelIds uint8, instanceIds uint16) of a rendered frame, with the void classes of a Cityscapes frame."""
    lut = np.zeros(256, np.uint8)
    for train_id, label_id in _LABEL_ID.items():
        lut[train_id] = label_id
    label_ids = lut[semantic]
    rows = np.arange(height)[:, None]
    cols = np.arange(semantic.shape[1])[None, :]
    # parking on the left sidewalk, a dynamic object on the right one, the ego vehicle at the bottom
    label_ids[(label_ids == 8) & (cols < semantic.shape[1] // 8) & (rows > height * 0.8)] = 9
    label_ids[(label_ids == 8) & (cols > semantic.shape[1] * 15 // 16) & (rows > height * 0.7)] = 5
    label_ids[height - max(2, height // 40):] = 1
    caravan = max(t.ident for t in scene.things if t.cls == CAR)  # one car is a caravan in this video
    label_ids[(semantic == CAR) & (ident == caravan)] = 29
    things = (ident > 0) & np.isin(label_ids, (24, 26, 29))
    instance = np.where(things, label_ids.astype(np.uint16) * 1000 + ident.astype(np.uint16) - 1,
                        label_ids.astype(np.uint16))  # k = id - 1: the first object of a class has k = 0
    return label_ids, instance.astype(np.uint16)


def _widen_one_car(instance: np.ndarray, label_ids: np.ndarray) -> np.ndarray:
    """The instance mask of the largest car grows by 2 pixels into the road around it (colour unchanged)."""
    cars = instance[(instance >= 26000) & (instance < 27000)]
    if cars.size == 0:
        return instance
    values, counts = np.unique(cars, return_counts=True)
    target = values[np.argmax(counts)]
    mask = instance == target
    grown = mask.copy()
    for shift in (1, 2):
        grown[:, shift:] |= mask[:, :-shift]
        grown[:, :-shift] |= mask[:, shift:]
    out = instance.copy()
    out[grown & (label_ids == 7)] = target
    return out


def synthetic_depth(labelmap: np.ndarray, horizon: int, width: int, seed: int) -> np.ndarray:
    """uint16 metres*256: the ground plane seen from 1.2 m, objects at the depth of the ground below them, no
    depth (0) for the sky and for 5% of the pixels (holes of a stereo/LiDAR depth)."""
    height = labelmap.shape[0]
    rows = np.arange(height, dtype=np.float64)
    ground_depth = np.where(rows > horizon, width * _CAMERA_HEIGHT / np.maximum(rows - horizon, 1), 80.0)
    ground_depth = np.minimum(ground_depth, 80.0)
    # the nearest ground row (road, sidewalk, terrain) at or below every pixel of its column
    ground_rows = np.where(np.isin(labelmap, (0, 1, 9)), np.arange(height)[:, None], height - 1)
    below = np.minimum.accumulate(ground_rows[::-1], axis=0)[::-1]
    metres = ground_depth[below]
    depth = np.round(metres * 256).astype(np.uint16)
    depth[labelmap == 10] = 0
    holes = np.random.default_rng(seed).random(labelmap.shape) < 0.05
    depth[holes] = 0
    return depth


def instance_annotations(panoptic: np.ndarray) -> list[dict]:
    """The instance-json entries of one frame: every thing segment of its panoptic_inst, with a compressed RLE."""
    from pycocotools import mask as mask_utils

    out = []
    for value in np.unique(panoptic[panoptic >= 1000]).tolist():
        rle = mask_utils.encode(np.asfortranarray((panoptic == value).astype(np.uint8)))
        rle["counts"] = rle["counts"].decode("ascii")
        out.append({"category_id": value // 1000, "iscrowd": 0, "area": int(mask_utils.area(rle)),
                    "bbox": [float(x) for x in mask_utils.toBbox(rle)], "segmentation": rle, "inst_id": value})
    return out


def released_jsons(videos: list[Video], rendered: dict, width: int, height: int) -> dict[str, bytes]:
    out = {}
    categories = city_default_categories()
    for split in ("train", "val", "test"):
        mine = [v for v in videos if v.split == split]
        images = [{"id": v.vps_id(j), "file_name": v.file_name(j), "width": width, "height": height}
                  for v in mine for j in range(len(LABELLED_T))]
        out[f"panoptic_im_{split}_city_vps.json"] = json.dumps({"images": images, "categories": categories}).encode()
        if split != "train":
            dense = [{"id": index, "file_name": f"{v.stem(t)}_leftImg8bit.png", "width": width, "height": height}
                     for index, (v, t) in enumerate((v, t) for v in mine for t in range(SNIPPET))]
            out[f"im_all_info_{split}_city_vps.json"] = json.dumps({"images": dense}).encode()
        if split == "test":
            continue
        coco_images, annotations = [], []
        for v in mine:
            for j, t in enumerate(LABELLED_T):
                image_id = (v.number - 1) * 6 + j + 1
                coco_images.append({"id": image_id, "file_name": v.file_name(j), "width": width, "height": height})
                for entry in rendered[(v.number, t)]["instances"]:
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id, **entry})
        things = [{"id": c["id"], "name": c["name"], "supercategory": c["supercategory"]} for c in categories
                  if c["isthing"]]
        out[f"instances_{split}_city_vps_rle.json"] = json.dumps(
            {"images": coco_images, "annotations": annotations, "categories": things}).encode()
    return out


def city_default_categories() -> list[dict]:
    """The 19 categories in the shape of mcahny/vps prepare_data/city_default.py (its quirks included: the name
    'vegitation', ori_id 21 for traffic sign)."""
    out = []
    for label in cs.LABELS:
        if label.ignoreInEval:
            continue
        name = "vegitation" if label.name == "vegetation" else label.name
        ori_id = 21 if label.name == "traffic sign" else label.id
        out.append({"id": label.trainId, "name": name, "supercategory": label.category,
                    "isthing": int(label.hasInstances), "instance_eval": int(label.hasInstances),
                    "trainid": label.trainId, "ori_id": ori_id, "color": list(label.color)})
    return out


def dvps_sequences(videos: list[Video]) -> dict[int, int]:
    """video number -> Cityscapes-DVPS sequence id within its split (not the VPS order: the depth archive's
    names alone define it)."""
    out = {}
    for split in ("train", "val"):
        mine = [v.number for v in videos if v.split == split]
        for index, number in enumerate(reversed(mine)):
            out[number] = index
    return out


def depth_members(videos: list[Video], rendered: dict) -> list[tuple[str, bytes]]:
    sequences = dvps_sequences(videos)
    members = []
    for v in videos:
        if v.split == "test":
            continue
        for j, t in enumerate(LABELLED_T):
            name = f"{sequences[v.number]:06d}_{j:06d}_{v.stem(t)}_depth.png"
            members.append((f"video_sequence/{v.split}/{name}", rendered[(v.number, t)]["depth"]))
    return sorted(members)
