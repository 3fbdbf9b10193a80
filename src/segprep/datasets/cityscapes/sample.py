"""A miniature Cityscapes download: ``gtFine_trainvaltest.zip`` and ``leftImg8bit_trainvaltest.zip``.

Real archive names and inner paths (``README`` and ``license.txt`` at the root of both), real city
names per split, 2048x1024 frames. Each annotated frame is a street drawn as a polygons json
(wavy many-vertex outlines, far objects first) with cars, people, a rider on a bicycle, a
motorcycle, trucks, buses, caravans, a trailer, a ``cargroup`` and a ``persongroup``, a
``polegroup``, license plates on the nearest cars, a deleted object, the ego vehicle,
rectification border and out-of-roi strips. Its labelIds, instanceIds and color PNGs are drawn
from the json with cityscapesScripts' own ``createLabelImage`` / ``createInstanceImage`` (as the
official files were), so all four agree. Test frames carry the placeholder labels of the real
test split (ego vehicle, rectification border, out of roi). Photos are the colour map with
texture and sensor noise.
"""

from __future__ import annotations

import json
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import createLabelImage

from segprep.engine.parallel import imap_ordered
from segprep.io.images import encode_png, encode_png_fast
from segprep.samples.archives import write_zip
from segprep.samples.scenes import _texture

WIDTH, HEIGHT = 2048, 1024
CITIES = {"train": ("aachen", "bochum"), "val": ("frankfurt",), "test": ("berlin",)}
README = b"Cityscapes miniature sample written by segprep (synthetic content, official layout).\n"
LICENSE = b"Placeholder license of the segprep Cityscapes sample. The real download carries the Cityscapes license.\n"


def frame_stems(frames: int) -> list[tuple[str, str, str]]:
    """(split, city, stem) of every sample frame, sorted."""
    return sorted((split, city, f"{city}_{seq:06d}_{19 + 17 * seq:06d}")
                  for split, cities in CITIES.items() for city in cities for seq in range(frames))


def write_sample(out: Path, frames: int = 2, jobs: int = 1) -> list[Path]:
    items = frame_stems(frames)
    labels: list[tuple[str, bytes]] = []

    def images():
        yield "README", README
        yield "license.txt", LICENSE
        for (split, city, stem), rendered in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(rendered, Exception):
                raise rendered
            photo, gt = rendered
            for kind, data in gt.items():
                labels.append((f"gtFine/{split}/{city}/{stem}_gtFine_{kind}", data))
            yield f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png", photo

    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / "leftImg8bit_trainvaltest.zip", images())
    write_zip(out / "gtFine_trainvaltest.zip", [("README", README), ("license.txt", LICENSE)] + sorted(labels))
    return [out / "gtFine_trainvaltest.zip", out / "leftImg8bit_trainvaltest.zip"]


def render_frame(item: tuple[str, str, str]) -> tuple[bytes, dict[str, bytes]]:
    """The photo PNG and the four gtFine files of one frame."""
    split, _, stem = item
    seed = zlib.crc32(stem.encode())
    objects = placeholder_objects() if split == "test" else street_objects(np.random.default_rng(seed))
    document = {"imgHeight": HEIGHT, "imgWidth": WIDTH, "objects": objects}
    text = json.dumps(document, indent=4)
    annotation = Annotation()
    annotation.fromJsonText(text)
    label_ids = np.asarray(createLabelImage(annotation, "ids"))
    instance_ids = np.asarray(createInstanceImage(annotation, "ids")).astype(np.uint16)
    color = np.asarray(createLabelImage(annotation, "color"))
    gt = {
        "color.png": encode_png(color),
        "instanceIds.png": encode_png(instance_ids),
        "labelIds.png": encode_png(label_ids),
        "polygons.json": text.encode(),
    }
    return encode_png_fast(_photo(color[..., :3], seed)), gt


def _photo(color: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    texture = _tile_texture()
    shift = int(rng.integers(0, 256))
    rgb = color.astype(np.int16) * 4 // 5 + 25
    rgb += np.roll(texture, shift, axis=1)[..., None]
    rgb += rng.integers(-4, 5, (HEIGHT, WIDTH, 1), dtype=np.int16)  # luma-dominant sensor noise
    return np.clip(rgb, 0, 255).astype(np.uint8)


@lru_cache(maxsize=1)
def _tile_texture() -> np.ndarray:
    """Band-limited luminance texture (scenes' generator on a 512x512 tile), repeated over the frame."""
    tile = _texture(np.random.default_rng(0), 512, 512).astype(np.int16)
    return np.tile(tile, (HEIGHT // 512, WIDTH // 512))


# ---------------------------------------------------------------------- polygons


def _obj(label: str, points, **extra) -> dict:
    return {"label": label, "polygon": [[int(round(x)), int(round(y))] for x, y in points], **extra}


def _wavy(corners, rng: np.random.Generator, step: float = 24.0, amplitude: float = 3.0) -> list[tuple[float, float]]:
    """A closed outline through ``corners`` with a vertex every ``step`` pixels, jittered like a hand-drawn one."""
    points = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1]):
        t = np.arange(max(1, int(np.hypot(x1 - x0, y1 - y0) / step))) / max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        points.append(np.stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t], axis=1))
    outline = np.concatenate(points) + rng.normal(0, amplitude, (sum(len(p) for p in points), 2))
    outline = np.clip(outline, 0, [WIDTH - 1, HEIGHT - 1])
    return [(float(x), float(y)) for x, y in outline]


def _blob(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, n: int = 40):
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = rng.uniform(0.8, 1.0, n)
    return [(cx + rx * r * np.cos(a), cy + ry * r * np.sin(a)) for a, r in zip(angles, radius)]


def _vehicle(rng: np.random.Generator, x: float, foot: float, width: float, height: float, cabin: float = 0.45):
    """Side/back view of a vehicle: body, cabin on top, wheels at the bottom."""
    top, mid = foot - height, foot - height * (1 - cabin)
    outline = [(x, foot), (x, mid), (x + width * 0.15, mid), (x + width * 0.25, top), (x + width * 0.75, top),
               (x + width * 0.85, mid), (x + width, mid), (x + width, foot)]
    return _wavy(outline, rng, step=12.0, amplitude=1.0)


def _person(rng: np.random.Generator, x: float, foot: float, height: float):
    body = _blob(rng, x, foot - height * 0.45, height * 0.16, height * 0.45, 30)
    return [(px, min(py, foot)) for px, py in body]


def street_objects(rng: np.random.Generator) -> list[dict]:
    """The objects of one annotated frame, in drawing order."""
    horizon = float(rng.uniform(400, 470))
    vanish = float(rng.uniform(900, 1150))
    objects = [_obj("sky", _wavy([(0, 0), (WIDTH - 1, 0), (WIDTH - 1, horizon + 40), (0, horizon + 40)], rng, 64))]
    x = -20.0
    while x < WIDTH:  # buildings with jagged roofs
        width = float(rng.uniform(150, 380))
        top = horizon - float(rng.uniform(60, 360))
        objects.append(_obj("building", _wavy([(x, horizon + 60), (x, top), (x + width, top - rng.uniform(-40, 40)),
                                               (x + width, horizon + 60)], rng, 18, 2.5)))
        x += width * float(rng.uniform(0.85, 1.0))
    for _ in range(int(rng.integers(3, 6))):
        objects.append(_obj("vegetation", _blob(rng, rng.uniform(0, WIDTH), horizon - rng.uniform(0, 120),
                                                rng.uniform(60, 180), rng.uniform(50, 130), 60)))
    objects.append(_obj("terrain", _wavy([(0, horizon + 30), (WIDTH - 1, horizon + 30), (WIDTH - 1, horizon + 70),
                                          (0, horizon + 70)], rng, 40)))
    objects.append(_obj("road", _wavy([(0, HEIGHT - 1), (vanish - 60, horizon + 20), (vanish + 60, horizon + 20),
                                       (WIDTH - 1, HEIGHT - 1)], rng, 20, 2.0)))
    objects.append(_obj("sidewalk", _wavy([(0, horizon + 40), (vanish - 70, horizon + 22), (0, HEIGHT - 1)], rng)))
    objects.append(_obj("sidewalk", _wavy([(WIDTH - 1, horizon + 40), (vanish + 70, horizon + 22),
                                           (WIDTH - 1, HEIGHT - 1)], rng)))
    objects.append(_obj("parking", _wavy([(40, HEIGHT * 0.66), (260, HEIGHT * 0.6), (300, HEIGHT * 0.7),
                                          (60, HEIGHT * 0.76)], rng)))
    objects.append(_obj("fence", _wavy([(WIDTH - 420, horizon - 10), (WIDTH - 80, horizon + 10),
                                        (WIDTH - 80, horizon + 60), (WIDTH - 420, horizon + 50)], rng, 10, 1.5)))
    objects.append(_obj("wall", _wavy([(100, horizon - 30), (360, horizon - 20), (360, horizon + 50),
                                       (100, horizon + 50)], rng)))
    objects.append(_obj("static", _blob(rng, rng.uniform(300, 800), horizon + 50, 40, 25, 20)))
    objects.append(_obj("dynamic", _blob(rng, rng.uniform(1300, 1800), horizon + 60, 30, 20, 20)))
    objects.append(_obj("ground", _wavy([(600, HEIGHT * 0.9), (800, HEIGHT * 0.88), (820, HEIGHT * 0.95)], rng)))
    for px in np.sort(rng.uniform(50, WIDTH - 50, 6)):  # poles with signs and lights
        objects.append(_obj("pole", [(px, horizon - 260), (px + 7, horizon - 260), (px + 9, horizon + 90),
                                     (px - 2, horizon + 90)]))
        kind = "traffic sign" if rng.random() < 0.6 else "traffic light"
        objects.append(_obj(kind, _wavy([(px - 18, horizon - 300), (px + 25, horizon - 300), (px + 25, horizon - 255),
                                         (px - 18, horizon - 255)], rng, 10, 0.8)))
    gx = float(rng.uniform(200, 1700))
    objects.append(_obj("polegroup", [(gx, horizon - 120), (gx + 40, horizon - 120), (gx + 40, horizon + 40),
                                      (gx, horizon + 40)]))
    objects.append(_obj("cargroup", _wavy([(vanish - 420, horizon + 40), (vanish - 420, horizon - 5),
                                           (vanish - 120, horizon - 10), (vanish - 120, horizon + 40)], rng, 8, 1.5)))
    objects.append(_obj("persongroup", _wavy([(vanish + 180, horizon + 45), (vanish + 180, horizon - 25),
                                              (vanish + 300, horizon - 25), (vanish + 300, horizon + 45)], rng, 6, 1.0)))
    # things, far (small, near the horizon) to near (large, low): later ones overlap earlier ones
    things = []
    for _ in range(int(rng.integers(7, 11))):
        things.append(("car", float(rng.uniform(0.15, 1.0))))
    for _ in range(int(rng.integers(4, 7))):
        things.append(("person", float(rng.uniform(0.1, 0.8))))
    things += [("caravan", float(rng.uniform(0.2, 0.5))), ("caravan", float(rng.uniform(0.5, 0.9))),
               ("trailer", float(rng.uniform(0.2, 0.6))), ("rider", float(rng.uniform(0.3, 0.7))),
               ("motorcycle", float(rng.uniform(0.2, 0.8))),
               ("truck" if rng.random() < 0.5 else "bus", float(rng.uniform(0.1, 0.5))),
               ("train" if rng.random() < 0.3 else "truck", float(rng.uniform(0.05, 0.3)))]
    things.sort(key=lambda t: t[1])
    deleted_at = len(objects) + len(things) // 2
    for index, (label, depth) in enumerate(things):
        scale = 0.2 + 0.8 * depth
        foot = horizon + 40 + depth * (HEIGHT - horizon - 140)
        tx = float(rng.uniform(-100, WIDTH - 100))
        if label == "person":
            objects.append(_obj("person", _person(rng, tx, foot, 240 * scale)))
        elif label == "rider":
            objects.append(_obj("rider", _person(rng, tx + 40 * scale, foot - 60 * scale, 200 * scale)))
            objects.append(_obj("bicycle", _blob(rng, tx + 40 * scale, foot - 35 * scale, 70 * scale, 35 * scale, 36)))
        else:
            size = {"car": (330, 170), "caravan": (420, 260), "trailer": (300, 150), "motorcycle": (160, 120),
                    "truck": (480, 330), "bus": (560, 340), "train": (900, 380)}[label]
            width, height = size[0] * scale, size[1] * scale
            objects.append(_obj(label, _vehicle(rng, tx, foot, width, height)))
            if label == "car" and depth > 0.6:  # the plate of a near car: has no id, never drawn
                objects.append(_obj("license plate", [(tx + width * 0.42, foot - height * 0.3),
                                                      (tx + width * 0.58, foot - height * 0.3),
                                                      (tx + width * 0.58, foot - height * 0.2),
                                                      (tx + width * 0.42, foot - height * 0.2)]))
        if len(objects) >= deleted_at and not any(o.get("deleted") for o in objects):
            objects.append(_obj("car", _vehicle(rng, vanish - 150, HEIGHT * 0.8, 500, 260), deleted=1, verified=0,
                                user="annotator", date="01-Jan-2016 00:00:00"))
    return objects + placeholder_objects()


def placeholder_objects() -> list[dict]:
    """What the test split's json holds, and what closes every frame: ego vehicle, rectification
    border, out of roi."""
    rng = np.random.default_rng(7)
    hood = [(0, HEIGHT - 1)] + [(x, HEIGHT - 70 + 40 * ((x - WIDTH / 2) / (WIDTH / 2)) ** 2)
                                for x in np.linspace(0, WIDTH - 1, 40)] + [(WIDTH - 1, HEIGHT - 1)]
    return [
        _obj("ego vehicle", hood),
        _obj("out of roi", [(0, HEIGHT - 8), (WIDTH - 1, HEIGHT - 8), (WIDTH - 1, HEIGHT - 1), (0, HEIGHT - 1)]),
        _obj("rectification border", _wavy([(0, 0), (14, 0), (6, HEIGHT - 1), (0, HEIGHT - 1)], rng, 64, 0.5)),
        _obj("rectification border", _wavy([(WIDTH - 15, 0), (WIDTH - 1, 0), (WIDTH - 1, HEIGHT - 1),
                                            (WIDTH - 7, HEIGHT - 1)], rng, 64, 0.5)),
    ]
