"""What the VIPSeg and VSPW samples share: the street scene of a video and its category ids."""

from __future__ import annotations

from functools import lru_cache

from segprep.samples import scenes

IMAGE_QUALITY = 90

# Cityscapes trainIds of the street scenes -> VIPSeg 1-based category ids
_STUFF = {scenes.ROAD: 19, scenes.SIDEWALK: 20, scenes.BUILDING: 22, scenes.POLE: 13, scenes.SIGN: 41,
          scenes.VEGETATION: 67, scenes.TERRAIN: 16, scenes.SKY: 29}
_THINGS = {scenes.PERSON: 61, scenes.CAR: 49}
CATEGORY_IDS = {**_STUFF, **_THINGS}  # every scene trainId -> its 1-based category (also VSPW's mask values)
_INSTANCE_IDS = list(range(1, 13))  # scene ids 1.. -> VIPSeg instance k = id - 1 (so k = 0 exists)


@lru_cache(maxsize=4)
def scene(video: str, width: int, height: int) -> scenes.StreetScene:
    """The street scene of a video (a seed derived from its id), as VIPSeg and VSPW samples render it."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(video))
    return scenes.StreetScene(seed=seed, height=height, width=width, instance_ids=list(_INSTANCE_IDS))
