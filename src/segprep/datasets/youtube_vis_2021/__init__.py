"""YouTube-VIS 2021 -> ``data/youtube_vis_2021/`` (declaration only; the rooms are in ``datasets/youtube_vis/``)."""

from __future__ import annotations

from segprep.datasets.base import Download
from segprep.datasets.youtube_vis import YouTubeVIS

_PAGE = ("https://youtube-vos.org/dataset/vis/ -> the 2021 CodaLab competition "
         "(https://codalab.lisn.upsaclay.fr/competitions/7680, \"Participate\" -> \"Get data\")")


class YouTubeVIS2021(YouTubeVIS):
    NAME = "youtube-vis-2021"
    FOLDER = "youtube_vis_2021"
    TITLE = "YouTube-VIS 2021 (video instance segmentation)"
    YEAR = "2021"
    DOWNLOADS = (
        Download("train.zip", "", _PAGE, "train/JPEGImages/<video>/<frame>.jpg and train/instances.json (2,985 "
                 "videos, uncompressed RLE per frame); the extracted train/ folder is accepted too", login=True,
                 extracted=("train/instances.json",)),
        Download("valid.zip", "", _PAGE, "valid/JPEGImages/ and valid/instances.json (421 videos, no annotations)",
                 login=True, extracted=("valid/instances.json",)),
        Download("test.zip", "", _PAGE, "test/JPEGImages/ and test/instances.json (453 videos); optional",
                 login=True, extracted=("test/instances.json",), optional=True),
    )


RECIPE = YouTubeVIS2021
