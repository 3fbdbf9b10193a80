"""The STEP panoptic PNG encoding (KITTI-STEP, MOTChallenge-STEP): R = semantic, G*256 + B = instance.

Semantic ids are Cityscapes trainIds 0-18 with 255 = void; instance ids start at 1, 0 meaning
"no instance" (stuff, crowd or void). Source: google-research/deeplab2 g3doc/setup/kitti_step.md.
"""

from __future__ import annotations

import numpy as np

VOID = 255
NUM_CLASSES = 19
THING_CLASSES = (11, 13)  # person, car: the only classes with instance ids
CLASS_NAMES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)


# Cityscapes colours of the trainIds (cityscapesScripts helpers/labels.py), for drawing
CLASS_COLORS = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153), (250, 170, 30),
    (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142),
    (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)


def decode(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(semantic uint8, instance uint16) of an (H, W, 3) uint8 STEP panoptic map."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"a STEP panoptic map is 8-bit RGB, got {rgb.dtype} {rgb.shape}")
    semantic = rgb[..., 0].copy()
    instance = rgb[..., 1].astype(np.uint16) * 256 + rgb[..., 2]
    return semantic, instance


def encode(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """The (H, W, 3) uint8 map of a semantic and an instance map (instance < 65536)."""
    if semantic.shape != instance.shape:
        raise ValueError("semantic and instance maps differ in shape")
    if semantic.max(initial=0) > 255 or instance.max(initial=0) > 65535 or instance.min(initial=0) < 0:
        raise ValueError("semantic must fit 8 bits and instance 16 bits")
    instance = instance.astype(np.uint16)
    return np.stack([semantic.astype(np.uint8), (instance >> 8).astype(np.uint8), (instance & 255).astype(np.uint8)], -1)


def thing_lookup() -> np.ndarray:
    """A 256-entry table: True for the semantic ids that may carry an instance id."""
    table = np.zeros(256, dtype=bool)
    table[list(THING_CLASSES)] = True
    return table
