"""What Cityscapes-VPS and -DVPS do alike with a labelled frame: its tasks, its cls/inst maps decoded to
labelmap + panoptic_inst, and its report view."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segprep.datasets._shared.actions import place_checked, report_missing
from segprep.datasets._shared.cityscapes import GT
from segprep.datasets._shared.dvps import png_kind
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import decode_png, decode_png_fast, png_info
from segprep.io.sources import Source
from segprep.report.model import Category, LabelView
from segprep.datasets._shared.cityscapes_vps_sources import Frame, Inputs, SEQUENCE, VPS


# ---------------------------------------------------------------------- tasks


def image_task(output: str, stem: str, inputs: Inputs, group: str) -> Task:
    source = inputs.images.get(stem)
    if source is None:
        city = stem.split("_")[0]
        return missing_task(output, (output,), group, (
            f"no sequence frame {stem}: expected leftImg8bit_sequence/val/{city}/{stem}_leftImg8bit.png from "
            f"{SEQUENCE.filename} ({SEQUENCE.page})"))
    return Task(output, place_checked, (source,), (output,), {"check": "rgb"}, group)


def missing_task(key: str, outputs: tuple[str, ...], group: str, message: str) -> Task:
    return Task(key, report_missing, (), outputs, {"message": message}, group, size_hint=0)


def missing_labels_message(frame: Frame) -> str:
    if frame.file_name.endswith("_leftImg8bit.png"):
        return (f"no labels for {frame.vps_id} (the Cityscapes frame of its video): expected gtFine/val/{frame.city}/"
                f"{frame.stem}_gtFine_color.png and _gtFine_instanceIds.png from {GT.filename} ({GT.page})")
    return (f"no labels for {frame.vps_id}: expected {frame.split}/cls/{frame.vps_id}_final_mask.png and "
            f"{frame.split}/inst/{frame.vps_id}_*.png in {VPS.filename} ({VPS.page})")


def decode_color_map(data: bytes, name: str) -> np.ndarray:
    """(H, W, 3|4) uint8 pixels of a colour-coded map: 8-bit RGB, RGBA or palette PNG."""
    info = png_info(data, name)
    if (info.color_type, info.bit_depth) not in ((2, 8), (6, 8), (3, 8), (3, 4), (3, 2), (3, 1)):
        raise BadInput(f"{name}: expected a colour-coded map (8-bit RGB, RGBA or palette PNG), found a "
                       f"{png_kind(info)} PNG")
    color = decode_png_fast(data, name, info=info)
    if color.ndim != 3 or color.shape[2] not in (3, 4):
        raise BadInput(f"{name}: expected 3 or 4 colour channels, found shape {color.shape}")
    return color


def decode_instance_map(data: bytes, name: str) -> np.ndarray:
    """(H, W) uint16 instance ids (Cityscapes instanceIds: labelId*1000+k): a 16-bit one-channel PNG."""
    info = png_info(data, name)
    if info.color_type != 0 or info.bit_depth != 16:
        detail = ""
        if info.color_type == 0 and info.bit_depth <= 8:
            values = np.unique(decode_png(data, name))
            detail = f" with values {values[:12].tolist()}{' ...' if values.size > 12 else ''}"
        raise BadInput(f"{name}: expected a 16-bit one-channel instance-id PNG (labelId*1000+k, as Cityscapes "
                       f"instanceIds), found a {png_kind(info)} PNG{detail}")
    return decode_png_fast(data, name, info=info)


def frame_labels(ctx: TaskContext, cls: Source, inst: Source) -> tuple[np.ndarray, np.ndarray]:
    """(labelmap, panoptic_inst) of one frame's colour and instance maps; both inputs are checked first."""
    color = decode_color_map(ctx.read(cls), cls.describe())
    instance = decode_instance_map(ctx.read(inst), inst.describe())
    if color.shape[:2] != instance.shape:
        raise BadInput(f"{cls.describe()} is {color.shape[1]}x{color.shape[0]} but {inst.describe()} is "
                       f"{instance.shape[1]}x{instance.shape[0]}; the pair does not belong together")
    return vps.vps_labels(color, instance)


# ---------------------------------------------------------------------- report


def categories() -> list[Category]:
    names = {label.trainId: label.name for label in vps.cs.LABELS if not label.ignoreInEval}
    return [Category(names[t], color, t in vps.THING_TRAIN_IDS) for t, color in sorted(vps.train_id_colors().items())]


def panoptic_view(title: str, image_path: Path, panoptic: np.ndarray, rel: str) -> LabelView:
    """A frame and a panoptic_inst-style map (trainId or trainId*1000+k, 255 void) for the report."""
    image = decode_png(image_path.read_bytes(), str(image_path))
    values = np.unique(panoptic)
    category_of = {int(v): vps.category_of(int(v)) for v in values if vps.category_of(int(v)) < vps.NUM_CLASSES}
    return LabelView(title, image, panoptic.astype(np.int64), category_of, np.isin(panoptic, list(category_of),
                                                                                  invert=True), rel)
