"""VIPSeg label encodings: the 124 categories, raw ``panomasks`` values, and their COCO-panoptic form.

Raw masks (``VIPSeg/panomasks/*.png``, one channel, 16 bit) hold 1-based values: 0 void, a stuff
category's id (1..124), or ``thing_id * 100 + k`` for instance ``k`` (0-99, 0 is a real instance)
of a thing category. The json files and ``panoVIPSeg_categories.json`` use 0-based ids (raw id - 1).
Value 200 ("ceiling" written as a thing) is a known annotation error; the maintainers say it
should be 0, and Video K-Net maps it to void, so it is void here too (and counted).

The COCO-panoptic form used here is deterministic: a segment's id is its raw value, so its
colour is ``(value & 255, value >> 8, 0)`` (id = R + 256*G + 65536*B) and the same object keeps
its id in every frame of a video and in every run.

Source of the table: VIPSeg-Dataset/VIPSeg-Dataset ``panoVIPSeg_categories.json`` (124 entries,
ids 0-123, 58 things / 66 stuff), written here as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

VOID = 0
BAD_VALUE = 200  # "ceiling" as a thing: void (VIPSeg-Dataset issue #1)
NUM_CATEGORIES = 124

# (name, isthing, colour) for the 0-based category ids 0..123, in id order.
CATEGORIES: tuple[tuple[str, int, tuple[int, int, int]], ...] = (
    ('wall', 0, (120, 120, 120)),  # 0
    ('ceiling', 0, (180, 120, 120)),  # 1
    ('door', 1, (6, 230, 230)),  # 2
    ('stair', 0, (80, 50, 50)),  # 3
    ('ladder', 1, (4, 200, 3)),  # 4
    ('escalator', 0, (120, 120, 80)),  # 5
    ('Playground_slide', 0, (140, 140, 140)),  # 6
    ('handrail_or_fence', 0, (204, 5, 255)),  # 7
    ('window', 1, (230, 230, 230)),  # 8
    ('rail', 0, (4, 250, 7)),  # 9
    ('goal', 1, (224, 5, 255)),  # 10
    ('pillar', 0, (235, 255, 7)),  # 11
    ('pole', 0, (150, 5, 61)),  # 12
    ('floor', 0, (120, 120, 70)),  # 13
    ('ground', 0, (8, 255, 51)),  # 14
    ('grass', 0, (255, 6, 82)),  # 15
    ('sand', 0, (143, 255, 140)),  # 16
    ('athletic_field', 0, (204, 255, 4)),  # 17
    ('road', 0, (255, 51, 7)),  # 18
    ('path', 0, (204, 70, 3)),  # 19
    ('crosswalk', 0, (0, 102, 200)),  # 20
    ('building', 0, (61, 230, 250)),  # 21
    ('house', 0, (255, 6, 51)),  # 22
    ('bridge', 0, (11, 102, 255)),  # 23
    ('tower', 0, (255, 7, 71)),  # 24
    ('windmill', 0, (255, 9, 224)),  # 25
    ('well_or_well_lid', 0, (9, 7, 230)),  # 26
    ('other_construction', 0, (220, 220, 220)),  # 27
    ('sky', 0, (255, 9, 92)),  # 28
    ('mountain', 0, (112, 9, 255)),  # 29
    ('stone', 0, (8, 255, 214)),  # 30
    ('wood', 0, (7, 255, 224)),  # 31
    ('ice', 0, (255, 184, 6)),  # 32
    ('snowfield', 0, (10, 255, 71)),  # 33
    ('grandstand', 0, (255, 41, 10)),  # 34
    ('sea', 0, (7, 255, 255)),  # 35
    ('river', 0, (224, 255, 8)),  # 36
    ('lake', 0, (102, 8, 255)),  # 37
    ('waterfall', 0, (255, 61, 6)),  # 38
    ('water', 0, (255, 194, 7)),  # 39
    ('billboard_or_Bulletin_Board', 0, (255, 122, 8)),  # 40
    ('sculpture', 1, (0, 255, 20)),  # 41
    ('pipeline', 0, (255, 8, 41)),  # 42
    ('flag', 1, (255, 5, 153)),  # 43
    ('parasol_or_umbrella', 1, (6, 51, 255)),  # 44
    ('cushion_or_carpet', 0, (235, 12, 255)),  # 45
    ('tent', 1, (160, 150, 20)),  # 46
    ('roadblock', 1, (0, 163, 255)),  # 47
    ('car', 1, (140, 140, 140)),  # 48
    ('bus', 1, (250, 10, 15)),  # 49
    ('truck', 1, (20, 255, 0)),  # 50
    ('bicycle', 1, (31, 255, 0)),  # 51
    ('motorcycle', 1, (255, 31, 0)),  # 52
    ('wheeled_machine', 0, (255, 224, 0)),  # 53
    ('ship_or_boat', 1, (153, 255, 0)),  # 54
    ('raft', 1, (0, 0, 255)),  # 55
    ('airplane', 1, (255, 71, 0)),  # 56
    ('tyre', 0, (0, 235, 255)),  # 57
    ('traffic_light', 0, (0, 173, 255)),  # 58
    ('lamp', 0, (31, 0, 255)),  # 59
    ('person', 1, (11, 200, 200)),  # 60
    ('cat', 1, (255, 82, 0)),  # 61
    ('dog', 1, (0, 255, 245)),  # 62
    ('horse', 1, (0, 61, 255)),  # 63
    ('cattle', 1, (0, 255, 112)),  # 64
    ('other_animal', 1, (0, 255, 133)),  # 65
    ('tree', 0, (255, 0, 0)),  # 66
    ('flower', 0, (255, 163, 0)),  # 67
    ('other_plant', 0, (255, 102, 0)),  # 68
    ('toy', 0, (194, 255, 0)),  # 69
    ('ball_net', 0, (0, 143, 255)),  # 70
    ('backboard', 0, (51, 255, 0)),  # 71
    ('skateboard', 1, (0, 82, 255)),  # 72
    ('bat', 0, (0, 255, 41)),  # 73
    ('ball', 1, (0, 255, 173)),  # 74
    ('cupboard_or_showcase_or_storage_rack', 0, (10, 0, 255)),  # 75
    ('box', 1, (173, 255, 0)),  # 76
    ('traveling_case_or_trolley_case', 1, (0, 255, 153)),  # 77
    ('basket', 1, (255, 92, 0)),  # 78
    ('bag_or_package', 1, (255, 0, 255)),  # 79
    ('trash_can', 0, (255, 0, 245)),  # 80
    ('cage', 0, (255, 0, 102)),  # 81
    ('plate', 1, (255, 173, 0)),  # 82
    ('tub_or_bowl_or_pot', 1, (255, 0, 20)),  # 83
    ('bottle_or_cup', 1, (255, 184, 184)),  # 84
    ('barrel', 1, (0, 31, 255)),  # 85
    ('fishbowl', 1, (0, 255, 61)),  # 86
    ('bed', 1, (0, 71, 255)),  # 87
    ('pillow', 1, (255, 0, 204)),  # 88
    ('table_or_desk', 1, (0, 255, 194)),  # 89
    ('chair_or_seat', 1, (0, 255, 82)),  # 90
    ('bench', 1, (0, 10, 255)),  # 91
    ('sofa', 1, (0, 112, 255)),  # 92
    ('shelf', 0, (51, 0, 255)),  # 93
    ('bathtub', 0, (0, 194, 255)),  # 94
    ('gun', 1, (0, 122, 255)),  # 95
    ('commode', 1, (0, 255, 163)),  # 96
    ('roaster', 1, (255, 153, 0)),  # 97
    ('other_machine', 0, (0, 255, 10)),  # 98
    ('refrigerator', 1, (255, 112, 0)),  # 99
    ('washing_machine', 1, (143, 255, 0)),  # 100
    ('Microwave_oven', 1, (82, 0, 255)),  # 101
    ('fan', 1, (163, 255, 0)),  # 102
    ('curtain', 0, (255, 235, 0)),  # 103
    ('textiles', 0, (8, 184, 170)),  # 104
    ('clothes', 0, (133, 0, 255)),  # 105
    ('painting_or_poster', 1, (0, 255, 92)),  # 106
    ('mirror', 1, (184, 0, 255)),  # 107
    ('flower_pot_or_vase', 1, (255, 0, 31)),  # 108
    ('clock', 1, (0, 184, 255)),  # 109
    ('book', 0, (0, 214, 255)),  # 110
    ('tool', 0, (255, 0, 112)),  # 111
    ('blackboard', 0, (92, 255, 0)),  # 112
    ('tissue', 0, (0, 224, 255)),  # 113
    ('screen_or_television', 1, (112, 224, 255)),  # 114
    ('computer', 1, (70, 184, 160)),  # 115
    ('printer', 1, (163, 0, 255)),  # 116
    ('Mobile_phone', 1, (153, 0, 255)),  # 117
    ('keyboard', 1, (71, 255, 0)),  # 118
    ('other_electronic_product', 0, (255, 0, 163)),  # 119
    ('fruit', 0, (255, 204, 0)),  # 120
    ('food', 0, (255, 0, 143)),  # 121
    ('instrument', 1, (0, 255, 235)),  # 122
    ('train', 1, (133, 255, 0)),  # 123
)


def categories_json() -> list[dict]:
    """``panoVIPSeg_categories.json`` as the official converter expects it (0-based ids)."""
    return [{"id": i, "name": name, "isthing": isthing, "color": list(color)}
            for i, (name, isthing, color) in enumerate(CATEGORIES)]


def label_num_dic() -> dict[str, str]:
    """``label_num_dic_final.json`` of the download: 1-based ids as strings, plus "others": "0"."""
    out = {name: str(i + 1) for i, (name, _, _) in enumerate(CATEGORIES)}
    return {"others": "0"} | out


def thing_ids() -> list[int]:
    """1-based ids of the thing categories."""
    return [i + 1 for i, (_, isthing, _) in enumerate(CATEGORIES) if isthing]


def stuff_ids() -> list[int]:
    """1-based ids of the stuff categories."""
    return [i + 1 for i, (_, isthing, _) in enumerate(CATEGORIES) if not isthing]


@lru_cache(maxsize=1)
def category_table() -> np.ndarray:
    """int16 table over every 16-bit raw value: its 0-based category, -1 for void, -2 for invalid."""
    table = np.full(1 << 16, -2, np.int16)
    table[VOID] = -1
    table[BAD_VALUE] = -1
    for cid in stuff_ids():
        table[cid] = cid - 1
    for cid in thing_ids():
        table[cid * 100: cid * 100 + 100] = cid - 1
    return table


def invalid_values(values: np.ndarray) -> list[int]:
    """The values among ``values`` (distinct raw values) that are neither void, stuff, thing nor 200."""
    values = np.asarray(values, dtype=np.int64)
    out_of_range = values[(values < 0) | (values > 0xFFFF)]
    inside = values[(values >= 0) & (values <= 0xFFFF)]
    return sorted(int(v) for v in np.concatenate([out_of_range, inside[category_table()[inside] == -2]]))


@dataclass(frozen=True)
class Segment:
    id: int  # = the raw value
    category_id: int  # 0-based
    area: int
    bbox: tuple[int, int, int, int]  # x, y, width, height (COCO)

    def to_row(self) -> list[int]:
        return [self.id, self.category_id, self.area, *self.bbox]

    @classmethod
    def from_row(cls, row: list[int]) -> "Segment":
        return cls(row[0], row[1], row[2], tuple(row[3:7]))

    def to_json(self) -> dict:
        return {"id": self.id, "category_id": self.category_id, "iscrowd": 0, "area": self.area,
                "bbox": list(self.bbox)}


# One RGB pixel seen as a little-endian 16-bit id (R + 256*G) and B: writing the ids into an array of
# these is one contiguous pass (copying into every third byte pair of a uint8 array is ~9x slower).
_RGB_PIXEL = np.dtype([("rg", "<u2"), ("b", "u1")])


@dataclass(frozen=True)
class Panoptic:
    rgb: np.ndarray  # (H, W, 3) uint8, id = R + 256*G (B = 0)
    segments: list[Segment]  # sorted by id; void (0 and 200) excluded
    bad_pixels: int  # pixels of value 200 (made void)
    invalid: list[int]  # values that are not valid VIPSeg labels (the caller decides: error)


def segment_stats(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of a 2-D id map with their areas and bboxes, in one pass over the pixels.

    The pass marks where a horizontal run of equal values starts (every row starts a run);
    everything after works on the runs, which are far fewer than the pixels. Returns
    ``values`` (sorted), ``areas`` and ``boxes`` ((n, 4): x, y, width, height).
    """
    h, w = ids.shape
    flat = np.ascontiguousarray(ids).reshape(-1)
    n = flat.size
    if n == 0:
        return flat[:0].copy(), np.zeros(0, np.int64), np.zeros((0, 4), np.int64)
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    change[::w] = True
    starts = np.flatnonzero(change)
    lengths = np.diff(starts, append=n)
    run_values = flat[starts]
    order = np.argsort(run_values, kind="stable")  # stable: runs of a value stay in row order
    sorted_values = run_values[order]
    first = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    last = np.concatenate((first[1:], [len(order)])) - 1
    rows = starts[order] // w
    col0 = starts[order] - rows * w
    col1 = col0 + lengths[order] - 1
    values = sorted_values[first]
    areas = np.add.reduceat(lengths[order], first)
    x0 = np.minimum.reduceat(col0, first)
    x1 = np.maximum.reduceat(col1, first)
    y0, y1 = rows[first], rows[last]
    boxes = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1).astype(np.int64)
    return values, areas.astype(np.int64), boxes


def to_panoptic(mask: np.ndarray) -> Panoptic:
    """COCO-panoptic RGB and segments of a raw VIPSeg mask (2-D, integer values)."""
    if mask.ndim != 2:
        raise ValueError(f"a VIPSeg mask has one channel, got shape {mask.shape}")
    values, areas, boxes = segment_stats(mask)
    invalid = invalid_values(values)
    h, w = mask.shape
    pixels = np.zeros(h * w, _RGB_PIXEL)  # R, G = the value's low and high byte, B = 0
    if not invalid:
        pixels["rg"] = mask.reshape(-1)
    rgb = pixels.view(np.uint8).reshape(h, w, 3)
    table = category_table()
    bad_pixels = 0
    segments = []
    for value, area, box in zip(values.tolist(), areas.tolist(), boxes.tolist()):
        if value == BAD_VALUE:
            bad_pixels = area
            continue
        if value == VOID or value in invalid:
            continue
        segments.append(Segment(value, int(table[value]), area, tuple(box)))
    if bad_pixels:
        rgb[mask == BAD_VALUE] = 0
    return Panoptic(rgb, segments, bad_pixels, invalid)


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """COCO-panoptic id map of an (H, W, 3) uint8 image: R + 256*G + 65536*B."""
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def category_of(segment_id: int) -> int:
    """0-based category of a segment id (= raw value); -1 void, -2 invalid."""
    if not 0 <= segment_id <= 0xFFFF:
        return -2
    return int(category_table()[segment_id])
