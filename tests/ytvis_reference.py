"""A plain reading of the CocoVID conversion as the dossier describes mmtracking's
``youtubevis2coco.py`` (formats-image-vis.md section 3.4): ``json.load`` the official file, loop,
``json.dumps`` the result. The test oracle for byte-identity, and the benchmark's baseline.
"""

import json
from collections import defaultdict


def reference_cocovid(official: dict, split: str) -> dict:
    out = defaultdict(list)
    out["categories"] = [dict(c) for c in official["categories"]]
    tracks_of = defaultdict(list)
    if split == "train":
        for track in official["annotations"]:
            tracks_of[track["video_id"]].append(track)
    next_image = next_annotation = next_instance = 1
    for video in official["videos"]:
        out["videos"].append({"id": video["id"], "name": video["file_names"][0].split("/")[0],
                              "width": video["width"], "height": video["height"]})
        instance_of = {}
        for frame_id, file_name in enumerate(video["file_names"]):
            out["images"].append({"file_name": file_name, "height": video["height"], "width": video["width"],
                                  "id": next_image, "frame_id": frame_id, "video_id": video["id"]})
            for track in tracks_of[video["id"]]:
                if track["bboxes"][frame_id] is None:
                    continue
                if track["id"] not in instance_of:
                    instance_of[track["id"]] = next_instance
                    next_instance += 1
                out["annotations"].append({
                    "id": next_annotation, "video_id": video["id"], "image_id": next_image,
                    "category_id": track["category_id"], "instance_id": instance_of[track["id"]],
                    "bbox": track["bboxes"][frame_id], "segmentation": track["segmentations"][frame_id],
                    "area": track["areas"][frame_id], "iscrowd": track["iscrowd"]})
                next_annotation += 1
            next_image += 1
    return out


def reference_bytes(path, split: str, categories=None) -> bytes:
    with open(path) as f:
        official = json.load(f)
    if categories is not None and "categories" not in official:
        official["categories"] = categories
    return json.dumps(reference_cocovid(official, split)).encode()
