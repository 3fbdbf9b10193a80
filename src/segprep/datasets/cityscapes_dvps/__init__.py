"""Cityscapes-DVPS -> ``data/cityscapes-dvps/video_sequence/{train,val}/`` as PolyphonicFormer reads it.

The depth archive (``video_sequence/{train,val}/*_depth.png``) names every frame:
``{seq:06d}_{frame:06d}_{city}_{cs_seq:06d}_{cs_frame:06d}_depth.png``; the Cityscapes frame
``{city}_{cs_seq}_{cs_frame}`` is a frame of the Cityscapes-VPS split of the same name. Beside each
depth file (bytes unchanged) go its image from the Cityscapes sequence archive (``_leftImg8bit.png``,
bytes unchanged) and ``_gtFine_instanceTrainIds.png``: the VPS panoptic_inst of the frame in the
``joe-siyuan-qiao/vps`` fork's encoding (16-bit, stuff ``trainId*1000``, things ``trainId*1000+k``,
void 32000), which is what ViP-DeepLab's ``copy_gt.py`` / ``copy_video_sequence.py`` put there.
Sources: formats-video.md 5; ViP-DeepLab ``cityscapes-dvps/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.datasets._shared.cityscapes import GT
from segprep.datasets._shared.cityscapes_vps_sources import (SEQUENCE, VIDEO_SAMPLE_OPTIONS, VPS, _videos_option,
                                                             find_inputs, split_frames)
from segprep.datasets._shared.dvps import SPLITS, wrong_download
from segprep.engine.progress import Progress
from segprep.engine.runner import Plan

PUBLISHED_FRAMES = {"train": 2400, "val": 300}  # google-research/deeplab2 data/dataset.py (2400/300/300)
PUBLISHED_SEQUENCES = {"train": 400, "val": 50}
DEPTH = Download(
    "video_sequence.zip", "",
    "https://drive.google.com/file/d/147esC0jEhWQCCEMOHj5nYGCPnuwmQrl4 (joe-siyuan-qiao/ViP-DeepLab "
    "cityscapes-dvps/README.md)",
    "the Cityscapes-DVPS depth maps, video_sequence/{train,val}/{seq:06d}_{frame:06d}_{city}_{seq:06d}_{frame:06d}"
    "_depth.png (uint16, metres*256). Its file name is not published: any zip or tar in --raw whose name contains "
    "'video_sequence', 'dvps' or 'depth' and holds these files is used, and so is the extracted video_sequence/ folder",
    extracted=("video_sequence",),
)
KINDS = ("leftImg8bit", "gtFine_instanceTrainIds", "depth")

from segprep.datasets.cityscapes_dvps.sources import find_depth  # noqa: E402
from segprep.datasets.cityscapes_dvps.work import frame_tasks  # noqa: E402
from segprep.datasets.cityscapes_dvps.verify import verify_tree  # noqa: E402
from segprep.datasets.cityscapes_dvps.report import CityscapesDVPSReport  # noqa: E402


class CityscapesDVPS(CityscapesDVPSReport, Recipe):
    NAME = "cityscapes-dvps"
    COMPILED_CODECS = True
    FOLDER = "cityscapes-dvps"
    TITLE = "Cityscapes-DVPS (depth-aware video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("video_sequence/*/*_gtFine_instanceTrainIds.png", "video_sequence/*/*_depth.png")
    DOWNLOADS = (DEPTH, VPS, SEQUENCE, GT)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val", shapes_output=False),
    )
    SAMPLE_OPTIONS = VIDEO_SAMPLE_OPTIONS

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        depth, notes = find_depth(raw)
        inputs = find_inputs(raw)
        tasks = []
        for split in splits:
            frames = {frame.stem: frame for frame in split_frames(inputs, split)}
            used = set()
            for (depth_split, prefix), source in sorted(depth.items()):
                if depth_split != split:
                    continue
                stem = prefix[len("000000_000000_"):]
                used.add(stem)
                tasks += frame_tasks(split, prefix, source, frames.get(stem), inputs)
            unused = sorted(set(frames) - used)
            if unused:
                notes.append(f"{split}: {len(unused)} Cityscapes-VPS frames have no depth file (e.g. {unused[0]}); "
                             "they are not part of Cityscapes-DVPS")
        return Plan(tasks, self.salt(options), notes + inputs.notes)

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        return wrong_download(raw, DEPTH, find_depth)

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.cityscapes_dvps.sample import write_sample

        write_sample(out, videos=_videos_option(options.get("videos") or "2,2,1"),
                     width=int(options.get("width") or 512), jobs=jobs, depth=True)


RECIPE = CityscapesDVPS
