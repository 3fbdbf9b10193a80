"""A miniature COCO 2017 download: the four official zips, with the real names and nesting.

- ``train2017.zip`` / ``val2017.zip``: ``{split}2017/{id:012d}.jpg`` photos (sizes vary as in COCO,
  one grayscale image);
- ``annotations_trainval2017.zip``: ``annotations/instances_{split}2017.json`` (polygons for objects,
  uncompressed RLE for crowds, one image without objects) and small captions / keypoints jsons that
  segprep does not need;
- ``panoptic_annotations_trainval2017.zip``: ``annotations/panoptic_{split}2017.json`` and the zips
  ``annotations/panoptic_{split}2017.zip`` holding ``panoptic_{split}2017/{id:012d}.png``.

Panoptic PNGs are built the way the real ones are: stuff regions take their category colour as
segment id, things a jittered colour (panopticapi's ``IdGenerator`` idea), id = R + 256 G + 65536 B.
Every image has stuff, objects that occlude each other, unlabeled (VOID, id 0) seams and blobs,
and every third image a crowd segment. Content is a function of the image id (deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from segprep.encodings import coco
from segprep.engine.parallel import imap_ordered
from segprep.io import jsonio
from segprep.io.images import encode_png
from segprep.samples.archives import write_zip

SIZES = ((640, 480), (640, 427), (480, 640), (500, 375), (612, 612), (640, 360))  # (width, height), as in COCO
SPLITS = ("train", "val")
PERSON = 1
INFO = {"description": "COCO 2017 Dataset (segprep miniature sample)", "url": "http://cocodataset.org",
        "version": "1.0", "year": 2017, "contributor": "COCO Consortium", "date_created": "2017/09/01"}
PANOPTIC_INFO = dict(INFO, description="COCO 2017 Panoptic Dataset (segprep miniature sample)")
LICENSES = [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4, "name": "Attribution License"}]


def image_ids(split: str, n: int) -> list[int]:
    """Distinct ids per split (train = 9 mod 16, val = 11 mod 16), like COCO's scattered ids."""
    return [(9 if split == "train" else 139) + 16 * i for i in range(n)]


@dataclass
class Rendered:
    image_id: int
    width: int
    height: int
    jpeg: bytes
    png: bytes
    segments_info: list[dict]
    instances: list[dict]  # instance annotations without "id"


def write_sample(out: Path, train: int = 6, val: int = 4, nested: str = "deflated", jobs: int = 1,
                 size: tuple[int, int] | None = None) -> list[Path]:
    """Writes the four zips into ``out``; ``nested`` is how the PNG zips sit in the panoptic zip
    ("stored": random access, or "deflated": one pass); ``size`` fixes every image's (width, height)."""
    if nested not in ("stored", "deflated"):
        raise ValueError("nested must be 'stored' or 'deflated'")
    out.mkdir(parents=True, exist_ok=True)
    instances_members, panoptic_members, stored = [], [], []
    for split, n in (("train", train), ("val", val)):
        items = [(image_id, size) for image_id in image_ids(split, n)]
        rendered: list[Rendered] = []

        def photos():
            for value in imap_ordered(render_image, items, jobs):
                if isinstance(value, Exception):
                    raise value
                rendered.append(value)
                yield f"{split}2017/{value.image_id:012d}.jpg", value.jpeg

        write_zip(out / f"{split}2017.zip", photos())
        images = [_image_entry(r, split) for r in rendered]
        annotations, next_id = [], 1 + (0 if split == "train" else 900000)
        for r in rendered:
            for ann in r.instances:
                annotations.append(dict(ann, id=next_id))
                next_id += 1
        instances_members.append((f"annotations/instances_{split}2017.json", jsonio.dumps(
            {"info": INFO, "licenses": LICENSES, "images": images, "annotations": annotations,
             "categories": coco.instance_categories()}, sort_keys=False)))
        instances_members.append((f"annotations/captions_{split}2017.json", jsonio.dumps(
            {"info": INFO, "licenses": LICENSES, "images": images, "annotations": [
                {"image_id": r.image_id, "id": i + 1, "caption": "A miniature scene."} for i, r in enumerate(rendered)]},
            sort_keys=False)))
        panoptic_members.append((f"annotations/panoptic_{split}2017.json", jsonio.dumps(
            {"info": PANOPTIC_INFO, "licenses": LICENSES, "images": images, "annotations": [
                {"segments_info": r.segments_info, "file_name": f"{r.image_id:012d}.png", "image_id": r.image_id}
                for r in rendered], "categories": coco.panoptic_categories()}, sort_keys=False)))
        inner = f"annotations/panoptic_{split}2017.zip"
        inner_path = out / f".{split}-panoptic.zip"
        write_zip(inner_path, [(f"panoptic_{split}2017/{r.image_id:012d}.png", r.png) for r in rendered])
        panoptic_members.append((inner, inner_path.read_bytes()))
        inner_path.unlink()
        if nested == "stored":
            stored.append(inner)
    write_zip(out / "annotations_trainval2017.zip", sorted(instances_members))
    write_zip(out / "panoptic_annotations_trainval2017.zip", sorted(panoptic_members), stored=stored)
    return [out / name for name in ("train2017.zip", "val2017.zip", "annotations_trainval2017.zip",
                                    "panoptic_annotations_trainval2017.zip")]


def _image_entry(r: Rendered, split: str) -> dict:
    name = f"{r.image_id:012d}.jpg"
    return {"license": 4, "file_name": name, "coco_url": f"http://images.cocodataset.org/{split}2017/{name}",
            "height": r.height, "width": r.width, "date_captured": "2013-11-14 11:18:45",
            "flickr_url": f"http://farm1.staticflickr.com/1/{r.image_id}_z.jpg", "id": r.image_id}


# ---------------------------------------------------------------------------- one image


def render_image(item: tuple[int, tuple[int, int] | None]) -> Rendered:
    image_id, size = item
    rng = np.random.default_rng(image_id)
    index = image_id // 16  # position in its split
    width, height = size or SIZES[index % len(SIZES)]
    objects = index % 5 != 3  # every fifth image shows no object (no instance annotation)
    ids, kinds = render_panoptic(rng, width, height, objects=objects, crowd=objects and index % 3 == 0)
    segments, instances = _annotations(ids, kinds, image_id)
    photo = _photo(rng, ids, kinds, gray=index % 7 == 5)
    buffer = _jpeg(photo)
    return Rendered(image_id, width, height, buffer, encode_png(coco.id2rgb(ids)), segments, instances)


@dataclass
class _Segment:
    category: int
    iscrowd: int
    polygon: list[float] | None  # the annotated outline of an object (instances json), None for stuff/crowd
    shade: tuple[int, int, int]


def render_panoptic(rng: np.random.Generator, width: int, height: int, objects: bool = True,
                    crowd: bool = False) -> tuple[np.ndarray, dict[int, _Segment]]:
    """Segment ids (uint32, 0 = VOID) and what each segment is."""
    kinds: dict[int, _Segment] = {}
    # stuff: a warped Voronoi partition, each region with its category colour as id
    n_stuff = int(rng.integers(4, 9))
    stuff = [int(c) for c in rng.choice(coco.STUFF_IDS, n_stuff, replace=False)]
    colours = {c[0]: c[4] for c in coco.CATEGORIES}
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    wx = xx + 60 * _smooth_noise(rng, height, width, 96)
    wy = yy + 60 * _smooth_noise(rng, height, width, 96)
    seeds = rng.uniform((0, 0), (width, height), (n_stuff, 2)).astype(np.float32)
    region = np.zeros((height, width), np.uint8)
    best = np.full((height, width), np.inf, np.float32)
    for k, (sx, sy) in enumerate(seeds):
        dist = (wx - sx) ** 2 + (wy - sy) ** 2
        closer = dist < best
        region[closer] = k
        np.minimum(best, dist, out=best)
    ids = np.zeros((height, width), np.uint32)
    for k, category in enumerate(stuff):
        sid = int(_rgb2id(colours[category]))
        kinds[sid] = _Segment(category, 0, None, colours[category])
        ids[region == k] = sid
    used = set(kinds) | {0}
    # objects: star-shaped polygons, later ones in front
    thing_mask = np.zeros((height, width), bool)
    for _ in range(int(rng.integers(4, 16)) if objects else 0):
        category = int(rng.choice(coco.THING_IDS))
        cx, cy = rng.uniform(0, width), rng.uniform(height * 0.2, height)
        radius = rng.uniform(12, min(width, height) * 0.3)
        n = int(rng.integers(8, 18))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.5, 1.0, n)
        xs = np.clip(cx + radii * np.cos(angles), 0, width - 1)
        ys = np.clip(cy + radii * np.sin(angles) * rng.uniform(0.8, 1.8), 0, height - 1)
        polygon = [round(float(v), 2) for xy in zip(xs, ys) for v in xy]
        mask = _polygon_mask(polygon, width, height)
        sid = _jittered_id(rng, colours[category], used)
        kinds[sid] = _Segment(category, 0, polygon, colours[category])
        ids[mask] = sid
        thing_mask |= mask
    if crowd:
        # a crowd: many small people in a band, annotated as one segment
        band_y = rng.uniform(height * 0.3, height * 0.7)
        mask = np.zeros((height, width), bool)
        for _ in range(12):
            x, y = rng.uniform(0, width), band_y + rng.uniform(-15, 15)
            rx, ry = rng.uniform(4, 9), rng.uniform(10, 22)
            mask |= ((xx - x) / rx) ** 2 + ((yy - y) / ry) ** 2 < 1
        sid = _jittered_id(rng, colours[PERSON], used)
        kinds[sid] = _Segment(PERSON, 1, None, colours[PERSON])
        ids[mask] = sid
        thing_mask |= mask
    # VOID: a seam around objects, and an unlabeled blob
    seam = _dilate(_dilate(thing_mask)) & ~thing_mask
    ids[seam] = 0
    bx, by = rng.uniform(0, width), rng.uniform(0, height)
    blob = ((xx - bx) / rng.uniform(30, 120)) ** 2 + ((yy - by) / rng.uniform(30, 90)) ** 2 < 1
    ids[blob] = 0
    return ids, kinds


def _annotations(ids: np.ndarray, kinds: dict[int, _Segment], image_id: int) -> tuple[list[dict], list[dict]]:
    """segments_info of the PNG (the segments that survived occlusion, in id order) and the instance annotations."""
    height, width = ids.shape
    present, areas = np.unique(ids, return_counts=True)
    segments = []
    for sid, area in zip(present.tolist(), areas.tolist()):
        if sid == 0:
            continue
        kind = kinds[sid]
        segments.append({"id": sid, "category_id": kind.category, "iscrowd": kind.iscrowd,
                         "bbox": _bbox(ids == sid), "area": area})
    instances = []
    for sid, kind in kinds.items():
        if kind.category not in coco.THING_IDS:
            continue
        if kind.polygon is not None:
            mask = _polygon_mask(kind.polygon, width, height)
            xs, ys = kind.polygon[0::2], kind.polygon[1::2]
            instances.append({"segmentation": [kind.polygon], "area": float(mask.sum()), "iscrowd": 0,
                              "image_id": image_id, "bbox": [min(xs), min(ys), round(max(xs) - min(xs), 2),
                                                              round(max(ys) - min(ys), 2)],
                              "category_id": kind.category})
        elif sid in set(present.tolist()):
            mask = ids == sid
            instances.append({"segmentation": {"counts": _uncompressed_rle(mask), "size": [height, width]},
                              "area": float(mask.sum()), "iscrowd": 1, "image_id": image_id,
                              "bbox": [float(v) for v in _bbox(mask)], "category_id": kind.category})
    return segments, instances


def _bbox(mask: np.ndarray) -> list[int]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def _uncompressed_rle(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE: run lengths over the column-major pixels, starting with a run of 0s."""
    flat = mask.ravel(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat[0] else runs


def _rgb2id(rgb) -> int:
    return int(rgb[0]) + 256 * int(rgb[1]) + 65536 * int(rgb[2])


def _jittered_id(rng: np.random.Generator, colour, used: set[int]) -> int:
    while True:
        rgb = np.clip(np.asarray(colour) + rng.integers(-30, 31, 3), 0, 255)
        sid = _rgb2id(rgb)
        if sid not in used:
            used.add(sid)
            return sid


def _polygon_mask(polygon: list[float], width: int, height: int) -> np.ndarray:
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon(polygon, fill=1)
    return np.asarray(canvas, dtype=bool)


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    coarse = rng.standard_normal((height // cell + 2, width // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR))


def _photo(rng: np.random.Generator, ids: np.ndarray, kinds: dict[int, _Segment], gray: bool) -> np.ndarray:
    height, width = ids.shape
    keys = sorted(kinds)
    colours = np.array([kinds[k].shade for k in keys] + [(128, 128, 128)], dtype=np.float32)
    index = _index_table().gather(ids, keys, range(len(keys)))  # VOID -> the last colour
    rgb = colours[np.minimum(index, len(keys))]
    texture = 18 * _smooth_noise(rng, height, width, 8) + 6 * rng.standard_normal((height, width), dtype=np.float32)
    rgb += texture[..., None]
    photo = np.clip(rgb, 0, 255).astype(np.uint8)
    return photo.mean(2).astype(np.uint8) if gray else photo


_table: coco.IdTable | None = None


def _index_table() -> coco.IdTable:
    global _table
    if _table is None:
        _table = coco.IdTable()
    return _table


def _jpeg(photo: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    Image.fromarray(photo).save(out, format="JPEG", quality=88)
    return out.getvalue()
