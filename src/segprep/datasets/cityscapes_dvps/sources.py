"""Finding the Cityscapes-DVPS depth maps under --raw (the VPS download is found as Cityscapes-VPS finds it:
``datasets/_shared/cityscapes_vps_sources.py``)."""

from __future__ import annotations

import re
from pathlib import Path

from segprep.datasets._shared.dvps import find_video_sequence
from segprep.datasets.cityscapes_dvps import DEPTH


_KEYWORDS = ("video_sequence", "dvps", "depth")
_DEPTH = re.compile(r"(?:^|/)(?:video_sequence/)?(train|val)/(\d{6}_\d{6}_[a-z]+_\d{6}_\d{6})_depth\.png$")


def find_depth(raw: Path):
    return find_video_sequence(raw, _DEPTH, _KEYWORDS, "Cityscapes-DVPS depth maps", DEPTH)
