"""YouTube-VIS 2019 -> ``data/youtube_vis_2019/`` (declaration only; the rooms are in ``datasets/youtube_vis/``)."""

from __future__ import annotations

from segprep.datasets.base import Download
from segprep.datasets.youtube_vis import YouTubeVIS

_PAGE = ("https://youtube-vos.org/dataset/vis/ -> the 2019 CodaLab competition "
         "(https://codalab.lisn.upsaclay.fr/competitions/6064, \"Participate\" -> \"Get data\": Google-Drive folders "
         "\"Labels\" and \"Image Frames\")")


class YouTubeVIS2019(YouTubeVIS):
    NAME = "youtube-vis-2019"
    FOLDER = "youtube_vis_2019"
    TITLE = "YouTube-VIS 2019 (video instance segmentation)"
    YEAR = "2019"
    DOWNLOADS = (
        Download("train.json", "", _PAGE, "annotations of the 2,238 training videos (uncompressed RLE per frame)",
                 login=True, extracted=("annotations/train.json",)),
        Download("valid.json", "", _PAGE, "the 302 validation videos (no annotations)", login=True,
                 extracted=("annotations/valid.json",)),
        Download("test.json", "", _PAGE, "the 343 test videos (no annotations); optional", login=True,
                 extracted=("annotations/test.json",), optional=True),
        Download("train.zip", "", _PAGE, "train/JPEGImages/<video>/<frame>.jpg, the annotated frames (every 5th); "
                 "train_all_frames.zip (every frame) or the extracted train/JPEGImages/ are accepted too", login=True,
                 extracted=("train/JPEGImages", "train_all_frames.zip", "train_all_frames/JPEGImages")),
        Download("valid.zip", "", _PAGE, "valid/JPEGImages/...; or valid_all_frames.zip, or extracted", login=True,
                 extracted=("valid/JPEGImages", "valid_all_frames.zip", "valid_all_frames/JPEGImages")),
        Download("test.zip", "", _PAGE, "test/JPEGImages/...; or test_all_frames.zip, or extracted; optional",
                 login=True, extracted=("test/JPEGImages", "test_all_frames.zip", "test_all_frames/JPEGImages"),
                 optional=True),
    )


RECIPE = YouTubeVIS2019
