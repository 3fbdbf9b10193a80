"""A miniature VIPSeg download: ``VIPSeg.zip`` with ``VIPSeg/imgs``, ``VIPSeg/panomasks`` and the split files.

Real-looking video ids (``{n}_{YouTube id}``), unsorted split files, frame names that keep
absolute frame numbers (never starting at 1), frames of the sizes VIPSeg has (1920x1080,
1280x720, a portrait 1080x1920 and one smaller than 720 high), street-scene photos as JPEG and
16-bit masks with VIPSeg's raw values: stuff ids, ``thing*100+k`` with instance ids that persist
across frames (the first car is instance 0), void, and the known bad value 200 in one mask.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from segprep.datasets._shared.video_frames_sample import _STUFF, _THINGS, IMAGE_QUALITY, scene
from segprep.encodings import vipseg as enc
from segprep.engine.parallel import imap_ordered
from segprep.io import jsonio
from segprep.io.images import encode_png
from segprep.samples.archives import write_zip

# split -> [(video, (width, height), first frame number, step)], in split-file order (not sorted, as the real ones)
VIDEOS = {
    "train": [
        ("381_4kQjx2mZpAE", (1080, 1920), 1201, 5),  # portrait: becomes 405x720
        ("12_fzOnCoFV8ZY", (1920, 1080), 377, 5),
        ("107_Mw1zbDe5r-I", (1280, 720), 46, 3),  # already 720p: linked
    ],
    "val": [
        ("1003_-5sqmCF8OFU", (1280, 720), 392, 5),  # holds the bad value 200
        ("98_Tnd2Zu9QmWk", (640, 352), 15, 5),  # smaller than 720 high: upscaled to 1309x720
    ],
    "test": [
        ("2045_Xq0H3e7cLfo", (1920, 1080), 2630, 5),
        ("517_b9WqKpRr2sE", (1280, 720), 88, 4),
    ],
}
BAD_VALUE_FRAME = ("1003_-5sqmCF8OFU", 1)  # (video, frame index) whose mask holds value 200
_CROWD_K = 99  # the scene's crowd of cars (id 0) becomes one more car instance


def videos(extra_videos: int = 0) -> dict[str, list[tuple[str, tuple[int, int], int, int]]]:
    """The sample's videos per split, with ``extra_videos`` 1080p train videos appended (benchmarks)."""
    out = {split: list(entries) for split, entries in VIDEOS.items()}
    out["train"] += [(f"{9000 + i}_bench{i:06d}", (1920, 1080), 100 + 7 * i, 5) for i in range(extra_videos)]
    return out


def frame_names(first: int, step: int, frames: int) -> list[str]:
    return [f"{first + step * t:08d}" for t in range(frames)]


def write_sample(out: Path, frames: int = 3, extra_videos: int = 0, jobs: int = 1) -> Path:
    """Writes ``out/VIPSeg.zip``; returns its path."""
    plan = videos(extra_videos)
    items = []
    for split, entries in plan.items():
        for video, size, first, step in entries:
            for t, stem in enumerate(frame_names(first, step, frames)):
                items.append((video, size, t, stem, split != "test"))
    items.sort(key=lambda item: (item[0], item[3]))

    def members():
        masks = []
        for (video, _, _, stem, _), rendered in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(rendered, Exception):
                raise rendered
            jpg, png = rendered
            yield f"VIPSeg/imgs/{video}/{stem}.jpg", jpg
            if png is not None:
                masks.append((f"VIPSeg/panomasks/{video}/{stem}.png", png))
        yield "VIPSeg/label_num_dic_final.json", jsonio.dumps(enc.label_num_dic(), sort_keys=False)
        yield from masks
        for split in ("test", "train", "val"):
            yield f"VIPSeg/{split}.txt", "".join(f"{v}\n" for v, _, _, _ in plan[split]).encode()

    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / "VIPSeg.zip", members())
    return out / "VIPSeg.zip"


def render_frame(item) -> tuple[bytes, bytes | None]:
    """JPEG bytes of one frame and, for train/val, its 16-bit raw mask as PNG."""
    video, (width, height), t, _, labelled = item
    frame = scene(video, width, height).render(t, void_ring=1)
    out = io.BytesIO()
    Image.fromarray(frame.rgb).save(out, format="JPEG", quality=IMAGE_QUALITY)
    if not labelled:
        return out.getvalue(), None
    mask = raw_mask(frame.semantic, frame.instance)
    if (video, t) == BAD_VALUE_FRAME:
        mask[: height // 12, width // 3: width // 2] = enc.BAD_VALUE
    return out.getvalue(), encode_png(mask)  # Pillow's default level: adaptive row filters, as real files


def raw_mask(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """VIPSeg raw values of a street scene: stuff ids, thing*100+k (k = scene id - 1), 0 void."""
    lut = np.zeros(256, np.uint16)
    for train_id, vipseg_id in _STUFF.items():
        lut[train_id] = vipseg_id
    mask = lut[semantic]
    for train_id, vipseg_id in _THINGS.items():
        things = semantic == train_id
        k = np.where(instance > 0, instance.astype(np.int64) - 1, _CROWD_K)
        mask[things] = (vipseg_id * 100 + k[things]).astype(np.uint16)
    return mask
