"""Cityscapes-VPS and Cityscapes-DVPS label encodings as pure functions.

What ``mcahny/vps prepare_data/create_panoptic_labels.py`` computes from a colour-coded semantic
map (``cls/``: the Cityscapes palette, 3 or 4 channels, the first three used) and a Cityscapes
instanceIds map (``inst/``: ``labelId*1000 + k`` for objects), formats-video.md 4.1-4.3:

* ``labelmap``: the trainId of every pixel whose colour is exactly one of the 19 trainId colours,
  255 elsewhere (8-bit).
* ``panoptic_inst``: the trainId where the colour is a stuff colour (trainIds 0-10), 255
  elsewhere; then every instance (instanceIds value >= 1000) takes the class of the colour most
  frequent under its mask (ties: the smallest ``R + 256 G + 65536 B``) and, when that class is a
  thing (11-18), its whole mask becomes ``trainId*1000 + value % 1000`` (``k`` can be 0);
  instances whose majority colour is not a thing colour leave their pixels as they were.
* Cityscapes-DVPS (the ``joe-siyuan-qiao/vps`` fork): the same with stuff stored as
  ``trainId*1000`` and void as 32000, i.e. a lookup of the VPS value.
* ``panoptic_video`` (segprep's deterministic ids): segment id = panoptic_inst value + 1 (0 stays
  void, as in COCO panoptic), stored as ``R + 256 G + 65536 B``.

The colours and classes come from the Cityscapes label table (``encodings.cityscapes``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from segprep.encodings import cityscapes as cs

DIVISOR = 1000
VOID = 255  # labelmap and panoptic_inst
DVPS_VOID = 32 * DIVISOR  # Cityscapes-DVPS: class 32 ("ignore") * 1000
NUM_CLASSES = cs.NUM_TRAIN_IDS
THING_TRAIN_IDS = tuple(range(11, 19))
STUFF_TRAIN_IDS = tuple(range(11))
_SPACE = 1 << 16  # every value a 16-bit map can hold
_NO_INSTANCE = 0xFFFF  # table entry: the instance keeps its pixels' values


def train_id_colors() -> dict[int, tuple[int, int, int]]:
    """trainId (0-18) -> its Cityscapes colour (the 19 colours of mcahny/vps city_default.py)."""
    return {label.trainId: tuple(label.color) for label in cs.LABELS if not label.ignoreInEval}


def color_key(color: np.ndarray) -> np.ndarray:
    """``R + 256 G + 65536 B`` (uint32) of an (H, W, 3|4) uint8 colour map (alpha ignored)."""
    key = color[..., 0].astype(np.uint32)
    key |= color[..., 1].astype(np.uint32) << 8
    key |= color[..., 2].astype(np.uint32) << 16
    return key


@lru_cache(maxsize=None)
def color_lut() -> np.ndarray:
    """uint8[2**24]: colour key -> trainId for the 19 colours, 255 for every other colour."""
    lut = np.full(1 << 24, VOID, np.uint8)
    for train_id, (r, g, b) in train_id_colors().items():
        lut[r + 256 * g + 65536 * b] = train_id
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=None)
def _stuff_lut() -> np.ndarray:
    """uint16[256]: trainId -> its panoptic_inst value before instances (stuff itself, else void)."""
    lut = np.full(256, VOID, np.uint16)
    lut[list(STUFF_TRAIN_IDS)] = STUFF_TRAIN_IDS
    lut.flags.writeable = False
    return lut


def labelmap(color: np.ndarray) -> np.ndarray:
    """The uint8 trainId map of a colour-coded map."""
    return np.take(color_lut(), color_key(color))


def vps_labels(color: np.ndarray, instance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labelmap uint8, panoptic_inst uint16) of a colour map and an instanceIds map of the same size."""
    if color.shape[:2] != instance.shape:
        raise ValueError(f"colour map {color.shape[:2]} and instance map {instance.shape} differ in size")
    key = color_key(color)
    label = np.take(color_lut(), key)
    panoptic = np.take(_stuff_lut(), label)
    objects = instance >= DIVISOR
    if objects.any():
        ids = instance[objects].astype(np.int64)
        pairs, counts = np.unique((ids << 24) | key[objects], return_counts=True)
        pair_ids, pair_keys = pairs >> 24, pairs & 0xFFFFFF
        order = np.lexsort((pair_keys, -counts, pair_ids))  # per id: most frequent colour, smallest key on ties
        first = order[np.r_[True, pair_ids[order][1:] != pair_ids[order][:-1]]]
        values, majority = pair_ids[first], np.take(color_lut(), pair_keys[first]).astype(np.int64)
        thing = (majority >= THING_TRAIN_IDS[0]) & (majority <= THING_TRAIN_IDS[-1])
        table = np.full(max(_SPACE, int(values.max()) + 1), _NO_INSTANCE, np.uint16)
        table[values[thing]] = majority[thing] * DIVISOR + values[thing] % DIVISOR
        chosen = np.take(table, ids)
        panoptic[objects] = np.where(chosen != _NO_INSTANCE, chosen, panoptic[objects])
    return label, panoptic


def category_of(value: int) -> int:
    """The trainId a panoptic_inst value belongs to (13005 -> 13, 7 -> 7, 255 -> 255)."""
    return value // DIVISOR if value >= DIVISOR else value


@lru_cache(maxsize=None)
def valid_panoptic_values() -> np.ndarray:
    """bool[65536]: values a panoptic_inst map may hold (255, stuff trainIds, thing trainId*1000+k)."""
    values = np.arange(_SPACE)
    ok = np.isin(values, list(STUFF_TRAIN_IDS) + [VOID])
    ok |= np.isin(values // DIVISOR, THING_TRAIN_IDS)
    ok.flags.writeable = False
    return ok


@lru_cache(maxsize=None)
def dvps_lut() -> np.ndarray:
    """uint16[65536]: panoptic_inst value -> Cityscapes-DVPS value (stuff trainId*1000, void 32000, things as is)."""
    values = np.arange(_SPACE, dtype=np.int64)
    lut = np.where(values >= DIVISOR, values, np.where(values < NUM_CLASSES, values * DIVISOR, DVPS_VOID))
    lut = lut.astype(np.uint16)
    lut.flags.writeable = False
    return lut


def dvps_label(panoptic: np.ndarray) -> np.ndarray:
    return np.take(dvps_lut(), panoptic)


@lru_cache(maxsize=None)
def valid_dvps_values() -> np.ndarray:
    """bool[65536]: values a Cityscapes-DVPS label may hold."""
    values = np.arange(_SPACE)
    ok = np.isin(values, [s * DIVISOR for s in STUFF_TRAIN_IDS] + [DVPS_VOID])
    ok |= np.isin(values // DIVISOR, THING_TRAIN_IDS)
    ok.flags.writeable = False
    return ok


# ---------------------------------------------------------------------- panoptic_video


def segment_id(value: int) -> int:
    """The panoptic_video segment id of a panoptic_inst value: the value + 1 (0 is void in COCO panoptic)."""
    return value + 1


@lru_cache(maxsize=None)
def _video_categories() -> np.ndarray:
    """int16[65536]: panoptic_inst value -> the category of its segment, -1 when the value is no segment
    (void, or a class outside 0-18: create_panoptic_video_labels.py skips those)."""
    values = np.arange(_SPACE)
    categories = np.where(values >= DIVISOR, values // DIVISOR, values)
    out = np.where(categories < NUM_CLASSES, categories, -1).astype(np.int16)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=None)
def _video_rgb_lut() -> np.ndarray:
    """uint8[65536, 3]: panoptic_inst value -> panoptic_video colour (0 where the value is no segment)."""
    values = np.arange(_SPACE, dtype=np.int64)
    ids = np.where(_video_categories() >= 0, values + 1, 0)
    lut = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], axis=1).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def panoptic_video_rgb(panoptic: np.ndarray) -> np.ndarray:
    """The (H, W, 3) panoptic_video PNG pixels of a panoptic_inst map."""
    return np.take(_video_rgb_lut(), panoptic, axis=0)


def video_segments(panoptic: np.ndarray) -> list[list[int]]:
    """``[id, category_id, iscrowd, area]`` of every segment of a panoptic_inst map, ascending, as
    create_panoptic_video_labels.py lists them: values of no class 0-18 (void) left out, a value below
    1000 of a thing class is a crowd region."""
    counts = np.bincount(panoptic.ravel(), minlength=_SPACE)
    categories = _video_categories()
    out = []
    for value in np.flatnonzero(counts[:_SPACE]).tolist():
        category = int(categories[value])
        if category < 0:
            continue
        crowd = int(value < DIVISOR and category in THING_TRAIN_IDS)
        out.append([segment_id(value), category, crowd, int(counts[value])])
    return out
