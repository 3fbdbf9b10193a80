"""COCO panoptic: the 133 categories, the id encoding of the PNGs, detectron2's panoptic_stuff mapping.

Segment id of a pixel = R + 256 * G + 65536 * B (panopticapi ``rgb2id``); 0 is VOID and never in
``segments_info``. detectron2's ``datasets/prepare_panoptic_fpn.py`` maps every thing category to
0, the 53 stuff categories to 1..53 in category-list order and everything else to 255, from its own
copy of the category list (not from the json). The table below is that list (ids, names,
supercategories, thing flags and colours of panopticapi's ``panoptic_coco_categories.json``).

The conversion is one pass over the pixels: a per-process table of 2^24 bytes (one per possible
segment id, 255 everywhere) gets the image's segment ids set, is gathered once, and is reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

VOID = 255  # panoptic_stuff value of pixels no listed segment covers
THING = 0  # panoptic_stuff value of every thing pixel (crowd included)
NUM_IDS = 1 << 24

# (id, name, supercategory, isthing, colour), in the official order
CATEGORIES: tuple[tuple[int, str, str, int, tuple[int, int, int]], ...] = (
    (1, "person", "person", 1, (220, 20, 60)),
    (2, "bicycle", "vehicle", 1, (119, 11, 32)),
    (3, "car", "vehicle", 1, (0, 0, 142)),
    (4, "motorcycle", "vehicle", 1, (0, 0, 230)),
    (5, "airplane", "vehicle", 1, (106, 0, 228)),
    (6, "bus", "vehicle", 1, (0, 60, 100)),
    (7, "train", "vehicle", 1, (0, 80, 100)),
    (8, "truck", "vehicle", 1, (0, 0, 70)),
    (9, "boat", "vehicle", 1, (0, 0, 192)),
    (10, "traffic light", "outdoor", 1, (250, 170, 30)),
    (11, "fire hydrant", "outdoor", 1, (100, 170, 30)),
    (13, "stop sign", "outdoor", 1, (220, 220, 0)),
    (14, "parking meter", "outdoor", 1, (175, 116, 175)),
    (15, "bench", "outdoor", 1, (250, 0, 30)),
    (16, "bird", "animal", 1, (165, 42, 42)),
    (17, "cat", "animal", 1, (255, 77, 255)),
    (18, "dog", "animal", 1, (0, 226, 252)),
    (19, "horse", "animal", 1, (182, 182, 255)),
    (20, "sheep", "animal", 1, (0, 82, 0)),
    (21, "cow", "animal", 1, (120, 166, 157)),
    (22, "elephant", "animal", 1, (110, 76, 0)),
    (23, "bear", "animal", 1, (174, 57, 255)),
    (24, "zebra", "animal", 1, (199, 100, 0)),
    (25, "giraffe", "animal", 1, (72, 0, 118)),
    (27, "backpack", "accessory", 1, (255, 179, 240)),
    (28, "umbrella", "accessory", 1, (0, 125, 92)),
    (31, "handbag", "accessory", 1, (209, 0, 151)),
    (32, "tie", "accessory", 1, (188, 208, 182)),
    (33, "suitcase", "accessory", 1, (0, 220, 176)),
    (34, "frisbee", "sports", 1, (255, 99, 164)),
    (35, "skis", "sports", 1, (92, 0, 73)),
    (36, "snowboard", "sports", 1, (133, 129, 255)),
    (37, "sports ball", "sports", 1, (78, 180, 255)),
    (38, "kite", "sports", 1, (0, 228, 0)),
    (39, "baseball bat", "sports", 1, (174, 255, 243)),
    (40, "baseball glove", "sports", 1, (45, 89, 255)),
    (41, "skateboard", "sports", 1, (134, 134, 103)),
    (42, "surfboard", "sports", 1, (145, 148, 174)),
    (43, "tennis racket", "sports", 1, (255, 208, 186)),
    (44, "bottle", "kitchen", 1, (197, 226, 255)),
    (46, "wine glass", "kitchen", 1, (171, 134, 1)),
    (47, "cup", "kitchen", 1, (109, 63, 54)),
    (48, "fork", "kitchen", 1, (207, 138, 255)),
    (49, "knife", "kitchen", 1, (151, 0, 95)),
    (50, "spoon", "kitchen", 1, (9, 80, 61)),
    (51, "bowl", "kitchen", 1, (84, 105, 51)),
    (52, "banana", "food", 1, (74, 65, 105)),
    (53, "apple", "food", 1, (166, 196, 102)),
    (54, "sandwich", "food", 1, (208, 195, 210)),
    (55, "orange", "food", 1, (255, 109, 65)),
    (56, "broccoli", "food", 1, (0, 143, 149)),
    (57, "carrot", "food", 1, (179, 0, 194)),
    (58, "hot dog", "food", 1, (209, 99, 106)),
    (59, "pizza", "food", 1, (5, 121, 0)),
    (60, "donut", "food", 1, (227, 255, 205)),
    (61, "cake", "food", 1, (147, 186, 208)),
    (62, "chair", "furniture", 1, (153, 69, 1)),
    (63, "couch", "furniture", 1, (3, 95, 161)),
    (64, "potted plant", "furniture", 1, (163, 255, 0)),
    (65, "bed", "furniture", 1, (119, 0, 170)),
    (67, "dining table", "furniture", 1, (0, 182, 199)),
    (70, "toilet", "furniture", 1, (0, 165, 120)),
    (72, "tv", "electronic", 1, (183, 130, 88)),
    (73, "laptop", "electronic", 1, (95, 32, 0)),
    (74, "mouse", "electronic", 1, (130, 114, 135)),
    (75, "remote", "electronic", 1, (110, 129, 133)),
    (76, "keyboard", "electronic", 1, (166, 74, 118)),
    (77, "cell phone", "electronic", 1, (219, 142, 185)),
    (78, "microwave", "appliance", 1, (79, 210, 114)),
    (79, "oven", "appliance", 1, (178, 90, 62)),
    (80, "toaster", "appliance", 1, (65, 70, 15)),
    (81, "sink", "appliance", 1, (127, 167, 115)),
    (82, "refrigerator", "appliance", 1, (59, 105, 106)),
    (84, "book", "indoor", 1, (142, 108, 45)),
    (85, "clock", "indoor", 1, (196, 172, 0)),
    (86, "vase", "indoor", 1, (95, 54, 80)),
    (87, "scissors", "indoor", 1, (128, 76, 255)),
    (88, "teddy bear", "indoor", 1, (201, 57, 1)),
    (89, "hair drier", "indoor", 1, (246, 0, 122)),
    (90, "toothbrush", "indoor", 1, (191, 162, 208)),
    (92, "banner", "textile", 0, (255, 255, 128)),
    (93, "blanket", "textile", 0, (147, 211, 203)),
    (95, "bridge", "building", 0, (150, 100, 100)),
    (100, "cardboard", "raw-material", 0, (168, 171, 172)),
    (107, "counter", "furniture-stuff", 0, (146, 112, 198)),
    (109, "curtain", "textile", 0, (210, 170, 100)),
    (112, "door-stuff", "furniture-stuff", 0, (92, 136, 89)),
    (118, "floor-wood", "floor", 0, (218, 88, 184)),
    (119, "flower", "plant", 0, (241, 129, 0)),
    (122, "fruit", "food-stuff", 0, (217, 17, 255)),
    (125, "gravel", "ground", 0, (124, 74, 181)),
    (128, "house", "building", 0, (70, 70, 70)),
    (130, "light", "furniture-stuff", 0, (255, 228, 255)),
    (133, "mirror-stuff", "furniture-stuff", 0, (154, 208, 0)),
    (138, "net", "structural", 0, (193, 0, 92)),
    (141, "pillow", "textile", 0, (76, 91, 113)),
    (144, "platform", "ground", 0, (255, 180, 195)),
    (145, "playingfield", "ground", 0, (106, 154, 176)),
    (147, "railroad", "ground", 0, (230, 150, 140)),
    (148, "river", "water", 0, (60, 143, 255)),
    (149, "road", "ground", 0, (128, 64, 128)),
    (151, "roof", "building", 0, (92, 82, 55)),
    (154, "sand", "ground", 0, (254, 212, 124)),
    (155, "sea", "water", 0, (73, 77, 174)),
    (156, "shelf", "furniture-stuff", 0, (255, 160, 98)),
    (159, "snow", "ground", 0, (255, 255, 255)),
    (161, "stairs", "furniture-stuff", 0, (104, 84, 109)),
    (166, "tent", "building", 0, (169, 164, 131)),
    (168, "towel", "textile", 0, (225, 199, 255)),
    (171, "wall-brick", "wall", 0, (137, 54, 74)),
    (175, "wall-stone", "wall", 0, (135, 158, 223)),
    (176, "wall-tile", "wall", 0, (7, 246, 231)),
    (177, "wall-wood", "wall", 0, (107, 255, 200)),
    (178, "water-other", "water", 0, (58, 41, 149)),
    (180, "window-blind", "window", 0, (183, 121, 142)),
    (181, "window-other", "window", 0, (255, 73, 97)),
    (184, "tree-merged", "plant", 0, (107, 142, 35)),
    (185, "fence-merged", "structural", 0, (190, 153, 153)),
    (186, "ceiling-merged", "ceiling", 0, (146, 139, 141)),
    (187, "sky-other-merged", "sky", 0, (70, 130, 180)),
    (188, "cabinet-merged", "furniture-stuff", 0, (134, 199, 156)),
    (189, "table-merged", "furniture-stuff", 0, (209, 226, 140)),
    (190, "floor-other-merged", "floor", 0, (96, 36, 108)),
    (191, "pavement-merged", "ground", 0, (96, 96, 96)),
    (192, "mountain-merged", "solid", 0, (64, 170, 64)),
    (193, "grass-merged", "plant", 0, (152, 251, 152)),
    (194, "dirt-merged", "ground", 0, (208, 229, 228)),
    (195, "paper-merged", "raw-material", 0, (206, 186, 171)),
    (196, "food-other-merged", "food-stuff", 0, (152, 161, 64)),
    (197, "building-other-merged", "building", 0, (116, 112, 0)),
    (198, "rock-merged", "solid", 0, (0, 114, 143)),
    (199, "wall-other-merged", "wall", 0, (102, 102, 156)),
    (200, "rug-merged", "textile", 0, (250, 141, 255)),
)
THING_IDS = tuple(c[0] for c in CATEGORIES if c[3])
STUFF_IDS = tuple(c[0] for c in CATEGORIES if not c[3])
# category id -> panoptic_stuff value (detectron2 prepare_panoptic_fpn.py)
STUFF_VALUE = {cid: THING for cid in THING_IDS} | {cid: i + 1 for i, cid in enumerate(STUFF_IDS)}
NUM_STUFF = len(STUFF_IDS)


def panoptic_categories() -> list[dict]:
    """The ``categories`` list of the panoptic jsons."""
    return [{"supercategory": s, "color": list(rgb), "isthing": t, "id": i, "name": n} for i, n, s, t, rgb in CATEGORIES]


def instance_categories() -> list[dict]:
    """The ``categories`` list of the instances jsons: the 80 things, without colour and thing flag."""
    return [{"supercategory": s, "id": i, "name": n} for i, n, s, t, _ in CATEGORIES if t]


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """Segment ids (uint32, H x W) of an (H, W, 3) uint8 panoptic PNG."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"a COCO panoptic PNG is 8-bit RGB, got {rgb.dtype} {rgb.shape}")
    ids = rgb[..., 2].astype(np.uint32)
    ids <<= 8
    ids |= rgb[..., 1]
    ids <<= 8
    ids |= rgb[..., 0]
    return ids


def rgba2id(rgba: np.ndarray) -> np.ndarray:
    """Segment ids of an (H, W, 4) uint8 array, computed in place: the pixels viewed as little-endian
    uint32 with the alpha byte cleared (one pass instead of three; ``rgba`` is consumed)."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8 or not rgba.flags.c_contiguous:
        raise ValueError(f"expected a contiguous (H, W, 4) uint8 array, got {rgba.dtype} {rgba.shape}")
    if not np.little_endian:
        return rgb2id(np.ascontiguousarray(rgba[..., :3]))
    ids = rgba.view(np.uint32)[..., 0]
    np.bitwise_and(ids, 0xFFFFFF, out=ids)
    return ids


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """The (H, W, 3) uint8 panoptic PNG pixels of segment ids below 2^24."""
    ids = np.asarray(ids, dtype=np.uint32)
    return np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=-1).astype(np.uint8)


class IdTable:
    """A reusable 2^24-entry lookup table from segment id to a small value (one per process)."""

    def __init__(self, dtype=np.uint8, fill: int = VOID):
        self.fill = fill
        self.table = np.full(NUM_IDS, fill, dtype=dtype)

    def gather(self, ids: np.ndarray, keys: Sequence[int], values: Sequence[int]) -> np.ndarray:
        """``values[k]`` where ``ids == keys[k]`` (keys distinct), ``fill`` elsewhere."""
        keys_array = np.asarray(keys, dtype=np.int64)
        if keys_array.size and (keys_array.min() < 0 or keys_array.max() >= NUM_IDS):
            raise ValueError(f"segment ids must be in 0..{NUM_IDS - 1}")
        self.table[keys_array] = np.asarray(values, dtype=self.table.dtype)
        try:
            return self.table.take(ids)
        finally:
            self.table[keys_array] = self.fill


_stuff_table: IdTable | None = None


def stuff_values(segments: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """(segment ids, panoptic_stuff values) of (segment id, category id) pairs; KeyError on unknown categories."""
    mapping: dict[int, int] = {}
    for segment_id, category_id in segments:
        mapping[segment_id] = STUFF_VALUE[category_id]  # a repeated id: the last one wins, as in detectron2
    return list(mapping), list(mapping.values())


def panoptic_stuff(ids: np.ndarray, segments: Iterable[tuple[int, int]]) -> np.ndarray:
    """detectron2's semantic map (uint8: things 0, stuff 1-53, 255 elsewhere) of segment ids and their categories."""
    global _stuff_table
    if _stuff_table is None:
        _stuff_table = IdTable()
    keys, values = stuff_values(segments)
    return _stuff_table.gather(ids, keys, values)


_slot_table: IdTable | None = None
_UNLISTED = np.iinfo(np.uint16).max


class Segments:
    """The listed segments of one panoptic map. ``slot`` holds, per pixel, the position of its id among
    the distinct listed ids (``n`` for any other id): one gather over a 2^24 table, after which every
    per-segment question is a pass over small integers, never a mask per segment."""

    def __init__(self, ids: np.ndarray, keys: Sequence[int]):
        global _slot_table
        if _slot_table is None:
            _slot_table = IdTable(np.uint16, _UNLISTED)
        self.ids, self.keys = ids, [int(k) for k in keys]
        self.distinct = list(dict.fromkeys(self.keys))
        self.n = len(self.distinct)
        if self.n >= _UNLISTED:
            raise ValueError(f"too many segments ({self.n})")
        self.slot = np.minimum(_slot_table.gather(ids, self.distinct, range(self.n)), self.n)

    def stats(self) -> tuple[list[int], list[list[int]], list[int]]:
        """Pixel count and bbox ``[x, y, w, h]`` (``[]`` when absent) of each listed id, in the order
        given, and the non-zero ids of the map that are not listed."""
        ids, slot, n = self.ids, self.slot, self.n
        unlisted = []
        void = 0 if 0 in self.distinct else int(np.count_nonzero(ids == 0))
        if int(np.count_nonzero(slot == n)) > void:  # some non-zero ids are not listed
            unlisted = [int(v) for v in np.unique(ids[(slot == n) & (ids != 0)])]
        rows, cols, counts = self._extents()
        slot_of = {key: k for k, key in enumerate(self.distinct)}
        areas, boxes = [], []
        for key in self.keys:
            k = slot_of[key]
            area = int(counts[k])
            areas.append(area)
            if area == 0:
                boxes.append([])
                continue
            ys, xs = np.flatnonzero(rows[:, k]), np.flatnonzero(cols[:, k])
            boxes.append([int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)])
        return areas, boxes, unlisted

    def _extents(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows x segments presence, columns x segments presence, pixels per segment)."""
        slot, n = self.slot, self.n
        height, width = slot.shape
        counts = np.bincount(slot.ravel(), minlength=n + 1)[:n]
        if n < 64:  # one bit per segment: OR-reduce the rows and the columns of 1 << slot
            bits = np.left_shift(np.uint64(1), slot.astype(np.uint64))
            k = np.arange(n, dtype=np.uint64)
            rows = (np.bitwise_or.reduce(bits, axis=1)[:, None] >> k) & np.uint64(1)
            cols = (np.bitwise_or.reduce(bits, axis=0)[:, None] >> k) & np.uint64(1)
            return rows.astype(bool), cols.astype(bool), counts
        # pixels per (row, segment) and per (column, segment)
        rows = np.bincount((np.arange(height, dtype=np.intp)[:, None] * (n + 1) + slot).ravel(),
                           minlength=height * (n + 1)).reshape(height, n + 1)[:, :n] > 0
        cols = np.bincount((np.arange(width, dtype=np.intp)[None, :] * (n + 1) + slot).ravel(),
                           minlength=width * (n + 1)).reshape(width, n + 1)[:, :n] > 0
        return rows, cols, counts

    def panoptic_stuff(self, categories: Sequence[int]) -> np.ndarray:
        """``panoptic_stuff`` of the map, ``categories[k]`` being the category of ``keys[k]``."""
        keys, values = stuff_values(zip(self.keys, categories))
        by_key = dict(zip(keys, values))
        table = np.array([by_key[k] for k in self.distinct] + [VOID], dtype=np.uint8)
        return table.take(self.slot)


def segment_stats(ids: np.ndarray, keys: Sequence[int]) -> tuple[list[int], list[list[int]], list[int]]:
    """``Segments(ids, keys).stats()``."""
    return Segments(ids, keys).stats()
