"""A miniature VSPW download: ``VSPW_data.tar`` split into ``VSPW_data.tar_aa``, ``_ab`` as published.

The full download is one uncompressed tar (43 GB) also offered as parts of 8 GB each
(``cat VSPW_data.tar_a* > VSPW_data.tar``); its tree is ``VSPW/{train,val,test}.txt``,
``VSPW/label_num_dic_final.json``, ``VSPW/data/{video}/origin/{frame:08d}.jpg`` and, for train and
val, ``VSPW/data/{video}/mask/{frame:08d}.png``. The sample has the same tree and names:

* real clip ids with their real first frame numbers (``vspw_videolist.txt``), consecutive frames
  (15 fps), split files in no sorted order;
* frames of several sizes: 1920x1080, 1280x720, a portrait 1080x1920, 854x480 (already the 480p
  target: linked), 640x360 (upscaled);
* 8-bit gray masks with the raw values: the 124 classes (1-based), 0 "others" (the scenes' terrain
  here) and 255 void (a ring around every object);
* the known defect: one frame of clip ``988_f_Xvy_DCPt8`` (a test video) is 0 bytes in the tar;
* the parts are cut inside a member, as ``split -b`` cuts;
* unless ``replacement=False``: the replacement images the dataset authors publish for that clip,
  extracted beside the parts at ``VSPW/data/988_f_Xvy_DCPt8/origin/`` (where prepare looks for them).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from segprep.datasets._shared.video_frames_sample import CATEGORY_IDS, IMAGE_QUALITY, scene
from segprep.encodings import vspw as enc
from segprep.engine.parallel import imap_ordered
from segprep.io import jsonio
from segprep.io.images import encode_png
from segprep.samples import scenes
from segprep.samples.archives import write_tar

ARCHIVE = "VSPW_data.tar"
DAMAGED_CLIP = "988_f_Xvy_DCPt8"
# split -> [(video, (width, height), first frame number)], in split-file order (not sorted)
VIDEOS = {
    "train": [
        ("59_xqQl6lyPu48", (1920, 1080), 1621),
        ("344_q0niFNeOQxM", (1080, 1920), 4080),  # portrait: becomes 270x480
        ("616_0tNe40TPqUc", (1280, 720), 32),
        ("100_9OFxODps2Uo", (854, 480), 610),  # already 480 high: linked, never re-encoded
    ],
    "val": [
        ("127_-hIVCYO4C90", (1280, 720), 1622),
        ("1643_T9npC-YHzuE", (640, 360), 543),  # smaller: upscaled to 853x480
    ],
    "test": [
        (DAMAGED_CLIP, (1920, 1080), 6183),
        ("582_QOahnV7DJ2s", (1280, 720), 580),
    ],
}
DAMAGED_FRAME = 1  # index of the frame of DAMAGED_CLIP that is 0 bytes in the tar

_LUT = np.zeros(256, np.uint8)  # scene trainId -> VSPW value; unlisted ids are "others" (0)
for _train_id, _category in CATEGORY_IDS.items():
    _LUT[_train_id] = _category
_LUT[scenes.TERRAIN] = 0  # "others"
_LUT[scenes.VOID] = 255


def videos(extra_videos: int = 0) -> dict[str, list[tuple[str, tuple[int, int], int]]]:
    """The sample's videos per split, with ``extra_videos`` 1080p train videos appended (benchmarks)."""
    out = {split: list(entries) for split, entries in VIDEOS.items()}
    out["train"] += [(f"{9000 + i}_bench{i:06d}", (1920, 1080), 100 + 7 * i) for i in range(extra_videos)]
    return out


def frame_names(first: int, frames: int) -> list[str]:
    return [f"{first + t:08d}" for t in range(frames)]


def write_sample(out: Path, frames: int = 3, extra_videos: int = 0, parts: int = 2, replacement: bool = True,
                 jobs: int = 1) -> list[Path]:
    """Writes the split archive (and the replacement images) into ``out``; returns the parts."""
    plan = videos(extra_videos)
    items = [(video, size, t, stem, split != "test")
             for split, entries in plan.items() for video, size, first in entries
             for t, stem in enumerate(frame_names(first, frames))]
    items.sort(key=lambda item: (item[0], item[3]))
    fixed: list[tuple[str, bytes]] = []

    def members():
        yield "VSPW/label_num_dic_final.json", jsonio.dumps(enc.label_num_dic(), sort_keys=False)
        for split in ("test", "train", "val"):
            yield f"VSPW/{split}.txt", "".join(f"{v}\n" for v, _, _ in plan[split]).encode()
        masks: list[tuple[str, bytes]] = []
        video = None
        for (name, _, t, stem, _), rendered in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(rendered, Exception):
                raise rendered
            if name != video:  # a video's origin/ then its mask/, as tar -c walks the tree
                yield from masks
                masks, video = [], name
            jpg, png = rendered
            if (name, t) == (DAMAGED_CLIP, DAMAGED_FRAME):
                fixed.append((f"VSPW/data/{name}/origin/{stem}.jpg", jpg))
                jpg = b""
            elif name == DAMAGED_CLIP:
                fixed.append((f"VSPW/data/{name}/origin/{stem}.jpg", jpg))
            yield f"VSPW/data/{name}/origin/{stem}.jpg", jpg
            if png is not None:
                masks.append((f"VSPW/data/{name}/mask/{stem}.png", png))
        yield from masks

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"{ARCHIVE}_??"):
        stale.unlink()
    shutil.rmtree(out / "VSPW", ignore_errors=True)
    write_tar(out / ARCHIVE, members(), compression="")
    written = split_archive(out / ARCHIVE, parts)
    if replacement:
        for rel, data in fixed:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
    return written


def split_archive(path: Path, parts: int) -> list[Path]:
    """Cuts ``path`` into ``parts`` files ``{path}_aa``, ``_ab``... of about equal size, each cut inside a
    member's data (``split -b`` pays no attention to members), and removes ``path``."""
    size = path.stat().st_size
    with tarfile.open(path) as tf:
        spans = [(m.offset_data, m.offset_data + m.size) for m in tf if m.isfile() and m.size > 1]
    cuts = []
    for k in range(1, parts):
        want = size * k // parts
        start, end = min(spans, key=lambda s: (abs((s[0] + s[1]) // 2 - want), s[0]))
        cuts.append((start + end) // 2)
    bounds = [0, *sorted(set(cuts)), size]
    written = []
    with open(path, "rb") as src:
        for index, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            part = path.with_name(f"{path.name}_{chr(97 + index // 26)}{chr(97 + index % 26)}")
            with open(part, "wb") as dst:
                remaining = end - start
                while remaining:
                    chunk = src.read(min(remaining, 1 << 22))
                    dst.write(chunk)
                    remaining -= len(chunk)
            written.append(part)
    os.unlink(path)
    return written


def render_frame(item) -> tuple[bytes, bytes | None]:
    """JPEG bytes of one frame and, for train/val, its 8-bit mask as PNG (Pillow's default writer)."""
    video, (width, height), t, _, labelled = item
    frame = scene(video, width, height).render(t, void_ring=1)
    out = io.BytesIO()
    Image.fromarray(frame.rgb).save(out, format="JPEG", quality=IMAGE_QUALITY)
    return out.getvalue(), (encode_png(mask_values(frame.semantic)) if labelled else None)


def mask_values(semantic: np.ndarray) -> np.ndarray:
    """VSPW raw values of a street scene's trainIds: class ids 1-124, 0 "others", 255 void."""
    return _LUT[semantic]
