"""VSPW semantic masks: one channel, 8 bit, the raw values of the download.

VSPW-dataset-download README: "Our ground truth mask contains values from 0 to 124 and 255. 0
indicates "others" and 255 indicates "void label". During evaluation, both 0 and 255 are void
classes." Values 1-124 are the 124 categories, 1-based, with the names and order of VIPSeg's
``label_num_dic_final.json`` (``encodings.vipseg``). Training code remaps them itself (the README's
three lines: 0 -> 255, minus 1, 254 -> 255), so the prepared masks keep the raw values.

Value 253 is accepted as void by Tube-Link's loader (``vspw_dvps.py``) although the README never
names it; segprep keeps it, and reports it. Any other value (125-252, 254) is not a VSPW label:
no loader can read it (Tube-Link raises, the README's remap turns it into a class id >= 124).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from segprep.encodings import vipseg
from segprep.errors import BadInput
from segprep.io.images import PngInfo, decode_png_fast, png_info

OTHERS = 0
VOID = 255
ODD_VOID = 253  # void for Tube-Link, unknown to the README: kept and reported
NUM_CLASSES = 124
VALID = np.zeros(256, bool)
VALID[: NUM_CLASSES + 1] = True
VALID[VOID] = True


def categories() -> list[tuple[str, tuple[int, int, int]]]:
    """(name, colour) of the classes 1..124, in order (index 0 = class 1)."""
    return [(name, color) for name, _, color in vipseg.CATEGORIES]


def label_num_dic() -> dict[str, str]:
    """``label_num_dic_final.json``: 1-based ids as strings, plus "others": "0" (the same table as VIPSeg's)."""
    return vipseg.label_num_dic()


def check_format(info: PngInfo, name: str) -> None:
    """Refuses a PNG that cannot hold VSPW's raw values: anything but 8-bit gray or a palette."""
    if (info.color_type, info.bit_depth) == (0, 8) or info.color_type == 3:
        return
    kinds = {0: "gray", 2: "RGB", 4: "gray+alpha", 6: "RGBA"}
    raise BadInput(f"{name}: expected an 8-bit one-channel PNG of VSPW labels (0-124, 255), found "
                   f"{info.bit_depth}-bit {kinds.get(info.color_type, 'colour type %d' % info.color_type)}")


def decode_mask(data: bytes, name: str, info: PngInfo | None = None) -> tuple[np.ndarray, bool]:
    """The raw values of a mask PNG as (H, W) uint8, and whether the file already is 8-bit gray.

    8-bit gray is what VSPW ships (and what ``change2_480p.py`` keeps); a palette PNG is read as
    its indices (Pillow's view of a P-mode image, the values a palette mask stands for). Anything
    else cannot hold VSPW's raw values and is refused, naming the file.
    """
    if info is None:  # the caller may have walked the chunks already
        info = png_info(data, name)
    check_format(info, name)
    if info.color_type == 0:
        return decode_png_fast(data, name, info=info), True
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im, dtype=np.uint8), False
    except Exception as exc:  # Pillow raises OSError, ValueError... for bad files
        raise BadInput(f"{name} cannot be decoded ({type(exc).__name__}: {exc}); it is damaged") from None


def histogram(mask: np.ndarray) -> np.ndarray:
    """Pixels per value 0..255 of a uint8 mask."""
    return np.bincount(mask.reshape(-1), minlength=256)


def invalid_values(counts: np.ndarray) -> list[int]:
    """Values present (``counts`` from ``histogram``) that are no VSPW label, 253 excepted (reported apart)."""
    present = np.flatnonzero(counts)
    return [int(v) for v in present if not VALID[v] and v != ODD_VOID]


def check_values(mask: np.ndarray) -> tuple[list[int], int]:
    """(values that are no VSPW label, pixels of value 253) of a uint8 mask. Two comparisons decide that
    every value is a label (the usual case, ~10x cheaper than a histogram); only otherwise is one made."""
    if np.count_nonzero(mask > NUM_CLASSES) == np.count_nonzero(mask == VOID):
        return [], 0
    counts = histogram(mask)
    return invalid_values(counts), int(counts[ODD_VOID])
