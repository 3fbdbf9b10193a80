"""Cityscapes-VPS -> ``data/cityscapes_vps/`` as Video K-Net's ``cityscapes_vps_clips*.py`` configs read it.

Cityscapes-VPS is built from the 500 Cityscapes **val** snippets (30 frames each): 6 frames per
video are labelled (the 5th, 10th, ..., 30th; the 20th is the Cityscapes gtFine frame), 400 / 50 /
50 videos for train / val / test. Inputs: the VPS zip (released jsons, colour and instance maps of
the 5 new frames), the Cityscapes sequence zip (only members under ``leftImg8bit_sequence/val/``
are read) and gtFine (the 20th frames' ``_gtFine_color`` and ``_gtFine_instanceIds``).

Outputs (mcahny/vps ``prepare_data``; formats-video.md 4):

* ``{split}/img/{file_name}``: the frames of ``panoptic_im_{split}_city_vps.json`` under their
  VPS names (``{video:04d}_{frame:04d}_{city}_{seq}_{frame}_{leftImg8bit|newImg8bit}.png``), bytes unchanged;
  ``{val,test}/img_all/``: the 30 frames per video of ``im_all_info_{split}_city_vps.json``;
* ``{train,val}/labelmap/`` and ``panoptic_inst/`` under the names Video K-Net derives
  (``leftImg8bit`` -> ``gtFine_color``, ``newImg8bit`` -> ``final_mask``), pixel values of
  ``create_panoptic_labels.py`` (``encodings.cityscapes_vps``);
* ``val/panoptic_video/`` + ``panoptic_gt_val_city_vps.json``: ``create_panoptic_video_labels.py``'s
  schema with deterministic segment ids (panoptic_inst value + 1) instead of random colours;
* the released jsons, bytes unchanged.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.datasets.cityscapes import GT, place_checked, report_missing
from segprep.datasets.dvps import GRAY8, GRAY16, RGB8, check_image, check_map, png_kind
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io.archives import Archive, find_archive, list_members, nested
from segprep.io.images import decode_png, decode_png_fast, encode_png_fast, png_info
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs, read_once
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced

SPLITS = ("train", "val", "test")
LABELLED = ("train", "val")
PUBLISHED_FRAMES = {"train": 2400, "val": 300, "test": 300}  # mcahny/vps README; deeplab2 dataset.py (DVPS)
PUBLISHED_VIDEOS = {"train": 400, "val": 50, "test": 50}
FRAMES_PER_VIDEO = 6
DENSE_FRAMES = 30  # img_all: every frame of a val/test snippet (nframes_span_test=30)
VIDEO_JSON = "panoptic_gt_val_city_vps.json"
THING_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")  # Video K-Net CLASSES


def released_jsons() -> tuple[str, ...]:
    """The json files of cityscapes-vps-dataset-1.0.zip (mcahny/vps prepare_data/readme.txt)."""
    return tuple([f"panoptic_im_{s}_city_vps.json" for s in SPLITS] + [f"instances_{s}_city_vps_rle.json" for s in
                                                                        LABELLED]
                 + [f"im_all_info_{s}_city_vps.json" for s in ("val", "test")])


VPS = Download(
    "cityscapes-vps-dataset-1.0.zip", "",
    "https://www.dropbox.com/s/ecem4kq0fdkver4/cityscapes-vps-dataset-1.0.zip (linked from the mcahny/vps README)",
    "the Cityscapes-VPS annotations: panoptic_im_{train,val,test}_city_vps.json, instances_{train,val}_city_vps_rle.json, "
    "im_all_info_{val,test}_city_vps.json and the labels of the 5 new frames of every train/val video, "
    "{train,val}/cls/*_final_mask.png (Cityscapes colours) and {train,val}/inst/*.png (instance ids), directly or "
    "inside train_gt.zip / val_gt.zip; its extracted cityscapes_vps/ folder is accepted too",
    extracted=("cityscapes_vps", "cityscapes-vps-dataset-1.0"),
)
SEQUENCE = Download(
    "leftImg8bit_sequence_trainvaltest.zip", "324 GB", "https://www.cityscapes-dataset.com/downloads/",
    "the 30-frame snippets around every Cityscapes frame, leftImg8bit_sequence/{train,val,test}/{city}/"
    "{city}_{seq}_{frame}_leftImg8bit.png; only the val snippets are read (nothing is extracted). Also accepted: "
    "leftImg8bit_sequence.zip, or the extracted leftImg8bit_sequence/val/ folder", login=True,
    tool=("csDownload", "--resume", "-d", "{raw}", "{filename}"), extracted=("leftImg8bit_sequence",),
)
SEQUENCE_NAMES = ("leftImg8bit_sequence_trainvaltest.zip", "leftImg8bit_sequence.zip")
GT_NAMES = ("gtFine_trainvaltest.zip", "gtFine.zip")

_JSON = re.compile(r"(?:^|/)((?:panoptic_im_(?:train|val|test)|instances_(?:train|val)|im_all_info_(?:val|test))"
                   r"_city_vps(?:_rle)?\.json)$")
_LABEL = re.compile(r"(?:^|/)(train|val|test)/(cls|inst)/([^/]+\.png)$")
_NESTED = re.compile(r"(?:^|/)(train|val|test)_gt\.zip$")
_NESTED_LABEL = re.compile(r"(?:^|/)(?:(train|val|test)/)?(cls|inst)/([^/]+\.png)$")
_LABEL_NAME = re.compile(r"^(\d{4}_\d{4}_[a-z]+_\d{6}_\d{6})_[^/]+\.png$")
_SEQUENCE = re.compile(r"(?:^|/)leftImg8bit_sequence/val/([a-z]+)/(([a-z]+)_\d{6}_\d{6})_leftImg8bit\.png$")
_GT = re.compile(r"(?:^|/)gtFine/val/([a-z]+)/(([a-z]+)_\d{6}_\d{6})_gtFine_(color|instanceIds)\.png$")
_FRAME_FILE = re.compile(r"^((\d{4})_(\d{4})_([a-z]+)_(\d{6})_(\d{6}))_(leftImg8bit|newImg8bit)\.png$")
_DENSE_FILE = re.compile(r"^(([a-z]+)_(\d{6})_(\d{6}))_leftImg8bit\.png$")


class CityscapesVPS(Recipe):
    NAME = "cityscapes-vps"
    FOLDER = "cityscapes_vps"
    TITLE = "Cityscapes-VPS (video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("*/panoptic_inst/*.png", "val/panoptic_video/*.png", "*/labelmap/*.png")
    DOWNLOADS = (VPS, SEQUENCE, GT)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare (test: img/ and img_all/ only, it has no labels)",
               "train,val", shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("videos", "videos per split as train,val,test", "2,2,1"),
        Option("width", "frame width (height = width / 2; Cityscapes: 2048)", 512, int),
    )

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        inputs = find_inputs(raw, need_labels=any(split in LABELLED for split in splits))
        frames = {split: split_frames(inputs, split) for split in splits}
        tasks = [Task(name, place_json, (source,), (name,), group="released jsons")
                 for name, source in sorted(inputs.jsons.items())]
        for split in splits:
            if split in LABELLED and f"instances_{split}_city_vps_rle.json" not in inputs.jsons:
                raise MissingInput(f"instances_{split}_city_vps_rle.json (Video K-Net's ins_ann) is not in the "
                                   f"Cityscapes-VPS download under {raw}.\n  - {VPS.describe()}")
            for frame in frames[split]:
                tasks.append(image_task(f"{split}/img/{frame.file_name}", frame.stem, inputs, f"{split} img"))
                if split in LABELLED:
                    tasks.append(_label_task(frame, video=split == "val"))
            if split != "train":
                for name in dense_frames(inputs, split):
                    tasks.append(image_task(f"{split}/img_all/{name}", name[: -len("_leftImg8bit.png")], inputs,
                                            f"{split} img_all"))
        finalize = None
        if "val" in splits:
            categories = _categories(inputs, "val")
            finalize = partial(write_video_json, frames=[(f.label_name, f"val/panoptic_inst/{f.label_name}")
                                                         for f in frames["val"]], categories=categories)
        notes = inputs.notes + _unused_labels(inputs, frames)
        return Plan(tasks, self.salt(options), notes, finalize=finalize)

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        return report_section(self, out_root)

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.cityscapes_vps import write_sample

        write_sample(out, videos=_videos_option(options.get("videos") or "2,2,1"), width=int(options.get("width") or 512),
                     jobs=jobs)


RECIPE = CityscapesVPS


def _videos_option(text: str) -> dict[str, int]:
    try:
        counts = [int(v) for v in str(text).split(",")]
        if len(counts) != 3 or min(counts) < 1:
            raise ValueError
    except ValueError:
        raise SegprepError(f"--videos {text}: give three positive numbers, train,val,test (e.g. 2,2,1)") from None
    return dict(zip(SPLITS, counts))


# ---------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """What was found of the three downloads."""

    jsons: dict[str, Source] = field(default_factory=dict)  # released json name -> source
    # split -> VPS id -> "cls"/"inst" -> (source, the folder or archive it was found in)
    labels: dict[str, dict[str, dict[str, tuple[Source, str]]]] = field(default_factory=dict)
    images: dict[str, Source] = field(default_factory=dict)  # Cityscapes stem -> leftImg8bit_sequence/val frame
    gt: dict[str, dict[str, Source]] = field(default_factory=dict)  # Cityscapes stem -> gtFine color/instanceIds
    notes: list[str] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)  # parsed jsons, read once while planning
    level: str = ""  # the folder or archive being scanned (two maps of one frame in one of them are an error)

    def document(self, name: str) -> Any:
        if name not in self.documents:
            source = self.jsons.get(name)
            if source is None:
                raise MissingInput(f"{name} is not in the Cityscapes-VPS download.\n  - {VPS.describe()}")
            self.documents[name] = parse_json(read_once(source), source.describe())
        return self.documents[name]


@dataclass(frozen=True)
class Frame:
    """One labelled frame of a VPS split, as the split's panoptic_im json lists it."""

    split: str
    vps_id: str  # {video:04d}_{frame:04d}_{city}_{seq:06d}_{frame:06d}
    file_name: str  # vps_id + _leftImg8bit.png (the gtFine frame) or _newImg8bit.png
    cls: Source | None = None
    inst: Source | None = None

    @property
    def stem(self) -> str:  # the Cityscapes name {city}_{seq}_{frame}
        return self.vps_id[len("0000_0000_"):]

    @property
    def city(self) -> str:
        return self.stem.split("_")[0]

    @property
    def label_name(self) -> str:  # Video K-Net: seg_map = file_name with leftImg8bit -> gtFine_color, newImg8bit -> final_mask
        return label_name(self.file_name)


def label_name(file_name: str) -> str:
    return file_name.replace("leftImg8bit", "gtFine_color").replace("newImg8bit", "final_mask")


def find_inputs(raw: Path, need_labels: bool = True) -> Inputs:
    """The VPS annotations, the val sequence frames and the gtFine val colour/instance maps: extracted folders
    first, then the archives (the first found of each accepted name). gtFine is required only for labels."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n{_describe_all()}")
    found = Inputs()
    for root in _vps_roots(raw):
        found.level = str(root)
        _scan_vps_folder(root, found)
    archive = _first_archive(raw, (VPS.filename,))
    if archive is not None:
        found.level = archive.display
        _scan_vps_archive(archive, found)
    for anchor in find_dirs(raw, {"leftImg8bit_sequence"}, 3):
        count = _scan_folder(anchor / "val", anchor.parent, _SEQUENCE, found.images, lambda m: m.group(2), raw)
        if count:
            found.notes.append(f"{anchor / 'val'}: {count:,} sequence frames (extracted)")
    for anchor in find_dirs(raw, {"gtFine"}, 3):
        count = _scan_folder(anchor / "val", anchor.parent, _GT, found.gt, None, raw)
        if count:
            found.notes.append(f"{anchor / 'val'}: {count:,} gtFine colour/instance maps (extracted)")
    for names, pattern, target in ((SEQUENCE_NAMES, _SEQUENCE, found.images), (GT_NAMES, _GT, found.gt)):
        archive = _first_archive(raw, names)
        if archive is None:
            continue
        count = 0
        for member in list_members(archive):
            match = pattern.search(member.name)
            if match is None:
                continue  # train and test members are never looked at again
            count += _add_match(match, MemberSource(archive, member), target, member.name)
        found.notes.append(f"{archive.display}: {count:,} val files used (random access; train and test members "
                           "are not read)")
    _require(found, raw, need_labels)
    return found


def _describe_all() -> str:
    return "\n".join(f"  - {d.describe()}" for d in (VPS, SEQUENCE, GT))


def _require(found: Inputs, raw: Path, need_labels: bool) -> None:
    if not found.jsons:
        raise MissingInput(f"no Cityscapes-VPS annotations (panoptic_im_*_city_vps.json) under {raw}. Expected:\n"
                           f"  - {VPS.describe()}")
    if not found.images:
        raise MissingInput(f"no Cityscapes sequence frames (leftImg8bit_sequence/val/...) under {raw}. Expected:\n"
                           f"  - {SEQUENCE.describe()}")
    if need_labels and not found.gt:
        raise MissingInput(f"no gtFine val colour/instance maps under {raw} (the 20th frame of every VPS video). "
                           f"Expected:\n  - {GT.describe()}")


def _first_archive(raw: Path, names: tuple[str, ...]) -> Archive | None:
    folders = [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        for name in names:
            archive = find_archive(folder, name)
            if archive is not None:
                return archive
    return None


def _vps_roots(raw: Path) -> list[Path]:
    """Extracted Cityscapes-VPS folders: raw itself or a folder up to two levels down holding a released json."""
    candidates = [raw] + find_dirs(raw, set(VPS.extracted), 2)
    return [c for c in candidates if any((c / name).is_file() for name in released_jsons())]


def _scan_vps_folder(root: Path, found: Inputs) -> None:
    count = 0
    for name in released_jsons():
        if (root / name).is_file() and name not in found.jsons:
            found.jsons[name] = FileSource.of(root / name)
    for split in SPLITS:
        for kind in ("cls", "inst"):
            folder = root / split / kind
            if folder.is_dir():
                for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                    if entry.is_file() and entry.name.endswith(".png"):
                        count += _add_label(found, split, kind, entry.name, FileSource.of(entry.path), entry.path)
        inner = root / f"{split}_gt.zip"
        if inner.is_file():
            count += _scan_label_zip(Archive((str(inner),), "zip"), split, found)
    found.notes.append(f"{root}: {len(found.jsons)} released jsons, {count:,} cls/inst maps (extracted)")


def _scan_vps_archive(archive: Archive, found: Inputs) -> None:
    count = jsons = 0
    for member in list_members(archive):
        match = _JSON.search(member.name)
        if match and match.group(1) not in found.jsons:
            found.jsons[match.group(1)] = MemberSource(archive, member)
            jsons += 1
            continue
        match = _LABEL.search(member.name)
        if match:
            count += _add_label(found, match.group(1), match.group(2), match.group(3), MemberSource(archive, member),
                                f"{archive.display}:{member.name}")
            continue
        match = _NESTED.search(member.name)
        if match:
            count += _scan_label_zip(nested(archive, member.name), match.group(1), found)
    found.notes.append(f"{archive.display}: {jsons} released jsons, {count:,} cls/inst maps")


def _scan_label_zip(archive: Archive, split: str, found: Inputs) -> int:
    count = 0
    for member in list_members(archive):
        match = _NESTED_LABEL.search(member.name)
        if match is None:
            continue
        if match.group(1) not in (None, split):
            raise BadInput(f"{archive.display}: member {member.name} belongs to the {match.group(1)} split, but the "
                           f"archive is the {split} labels; download the VPS zip again")
        count += _add_label(found, split, match.group(2), match.group(3), MemberSource(archive, member),
                            f"{archive.display}:{member.name}")
    return count


def _add_label(found: Inputs, split: str, kind: str, name: str, source: Source, where: str) -> int:
    match = _LABEL_NAME.match(name)
    if match is None:
        found.notes.append(f"ignored {where}: not a {{video:04d}}_{{frame:04d}}_{{city}}_{{seq}}_{{frame}}_*.png name")
        return 0
    entry = found.labels.setdefault(split, {}).setdefault(match.group(1), {})
    if kind in entry:
        previous, level = entry[kind]
        if level == found.level:
            raise BadInput(f"two {kind} maps for the frame {match.group(1)} ({split}): {previous.describe()} and "
                           f"{where}; remove the extra file or download the VPS zip again")
        return 0  # an earlier download (an extracted folder) holds this frame
    entry[kind] = (source, found.level)
    return 1


def _scan_folder(folder: Path, base: Path, pattern: re.Pattern, target: dict, key, raw: Path) -> int:
    """Files under folder/{city}/ whose path (relative to base) matches pattern."""
    if not folder.is_dir():
        return 0
    count = 0
    for city in sorted(e.name for e in os.scandir(folder) if e.is_dir()):
        for entry in sorted(os.scandir(folder / city), key=lambda e: e.name):
            rel = os.path.relpath(entry.path, base).replace(os.sep, "/")
            match = pattern.search(rel)
            if match and entry.is_file():
                count += _add_match(match, FileSource.of(entry.path), target, rel)
    return count


def _add_match(match: re.Match, source: Source, target: dict, where: str) -> int:
    city, stem, stem_city = match.group(1), match.group(2), match.group(3)
    if city != stem_city:
        raise BadInput(f"{where}: {stem} is filed under the city '{city}'; rename it back or use the official archive")
    if match.re is _GT:
        kinds = target.setdefault(stem, {})
        if match.group(4) in kinds:
            return 0
        kinds[match.group(4)] = source
        return 1
    if stem in target:
        return 0
    target[stem] = source
    return 1


def parse_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{name} is not valid JSON ({exc}); it is damaged or truncated: download it again") from None


def split_frames(inputs: Inputs, split: str) -> list[Frame]:
    """The frames ``panoptic_im_{split}_city_vps.json`` lists, with their label sources (train/val)."""
    name = f"panoptic_im_{split}_city_vps.json"
    document = inputs.document(name)
    images = document.get("images") if isinstance(document, dict) else None
    if not isinstance(images, list) or not images:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise BadInput(f"{name}: expected an 'images' list of the split's frames, found {keys}")
    frames = []
    for entry in images:
        file_name = entry.get("file_name") if isinstance(entry, dict) else None
        match = _FRAME_FILE.match(str(file_name))
        if match is None:
            raise BadInput(f"{name}: image entry {entry!r} has no file_name of the form {{video:04d}}_{{frame:04d}}_"
                           "{city}_{seq:06d}_{frame:06d}_{leftImg8bit|newImg8bit}.png")
        vps_id = match.group(1)
        cls = inst = None
        if split in LABELLED:
            new = {kind: source for kind, (source, _) in inputs.labels.get(split, {}).get(vps_id, {}).items()}
            if match.group(7) == "leftImg8bit":  # the Cityscapes frame: gtFine, as merge_datasets.py copies it
                gt = inputs.gt.get(vps_id[len("0000_0000_"):], {})
                cls, inst = gt.get("color", new.get("cls")), gt.get("instanceIds", new.get("inst"))
            else:
                cls, inst = new.get("cls"), new.get("inst")
        frames.append(Frame(split, vps_id, file_name, cls, inst))
    frames.sort(key=lambda f: f.file_name)
    return frames


def dense_frames(inputs: Inputs, split: str) -> list[str]:
    """The file names ``im_all_info_{split}_city_vps.json`` lists (img_all/)."""
    name = f"im_all_info_{split}_city_vps.json"
    document = inputs.document(name)
    images = document.get("images") if isinstance(document, dict) else None
    if not isinstance(images, list):
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise BadInput(f"{name}: expected an 'images' list, found {keys}")
    names = []
    for entry in images:
        file_name = entry.get("file_name") if isinstance(entry, dict) else None
        if _DENSE_FILE.match(str(file_name)) is None:
            raise BadInput(f"{name}: image entry {entry!r} has no file_name of the form "
                           "{city}_{seq:06d}_{frame:06d}_leftImg8bit.png")
        names.append(file_name)
    return sorted(set(names))


def _categories(inputs: Inputs, split: str) -> list:
    name = f"panoptic_im_{split}_city_vps.json"
    categories = inputs.document(name).get("categories")
    if not isinstance(categories, list) or not categories:
        raise BadInput(f"{name} has no 'categories' list (Video K-Net reads trainid and isthing from it); download "
                       "the VPS zip again")
    return categories


def _unused_labels(inputs: Inputs, frames: dict[str, list[Frame]]) -> list[str]:
    notes = []
    for split, items in frames.items():
        unused = set(inputs.labels.get(split, {})) - {f.vps_id for f in items}
        if unused:
            notes.append(f"{split}: {len(unused)} cls/inst maps of frames not listed in panoptic_im_{split}_city_vps.json "
                         f"are not used (e.g. {sorted(unused)[0]})")
    return notes


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


def _label_task(frame: Frame, video: bool) -> Task:
    split, name = frame.split, frame.label_name
    outputs = [f"{split}/panoptic_inst/{name}", f"{split}/labelmap/{name}"]
    if video:
        outputs.append(f"{split}/panoptic_video/{name}")
    group = f"{split} labelmap + panoptic_inst" + (" + panoptic_video" if video else "")
    if frame.cls is None or frame.inst is None:
        return missing_task(outputs[0], tuple(outputs), group, missing_labels_message(frame))
    return Task(outputs[0], convert_frame, (frame.cls, frame.inst), tuple(outputs), {"video": video}, group,
                size_hint=300_000 * len(outputs))


# ---------------------------------------------------------------------- actions (run in workers)


def place_json(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=parse_json)


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


def convert_frame(ctx: TaskContext, task: Task) -> dict | None:
    """cls + inst -> panoptic_inst, labelmap (and val: panoptic_video); returns the segments for the val json."""
    label, panoptic = frame_labels(ctx, *task.inputs)
    ctx.write_bytes(task.outputs[0], encode_png_fast(panoptic))
    ctx.write_bytes(task.outputs[1], encode_png_fast(label))
    if not task.params["video"]:
        return None
    ctx.write_bytes(task.outputs[2], encode_png_fast(vps.panoptic_video_rgb(panoptic)))
    height, width = panoptic.shape
    return {"width": width, "height": height, "segments": vps.video_segments(panoptic)}


# ---------------------------------------------------------------------- finalize


def write_video_json(ctx: FinalizeContext, frames: list[tuple[str, str]], categories: list) -> None:
    """panoptic_gt_val_city_vps.json in create_panoptic_video_labels.py's schema (json.dump, key order)."""
    if ctx.complete([VIDEO_JSON], [key for _, key in frames]):
        ctx.write_bytes(VIDEO_JSON, video_json([(name, ctx.extras[key]) for name, key in frames], categories))


def video_json(frames: list[tuple[str, dict]], categories: list) -> bytes:
    images, annotations = [], []
    for name, extra in sorted(frames, key=lambda item: item[0]):  # the sorted glob of panoptic_inst/
        image_id = name.rsplit("_", 2)[0]
        images.append({"id": image_id, "width": extra["width"], "height": extra["height"],
                       "file_name": name.replace("final_mask", "newImg8bit").replace("gtFine_color", "leftImg8bit")})
        segments = [{"id": i, "category_id": c, "iscrowd": crowd, "area": area}
                    for i, c, crowd, area in extra["segments"]]
        annotations.append({"image_id": image_id, "file_name": name, "segments_info": segments})
    return json.dumps({"images": images, "annotations": annotations, "categories": categories}).encode()


# ---------------------------------------------------------------------- verification

_ALLOWED = {
    "train": {"img", "labelmap", "panoptic_inst"},
    "val": {"img", "img_all", "labelmap", "panoptic_inst", "panoptic_video"},
    "test": {"img", "img_all"},
}


def _listing(folder: Path) -> set[str]:
    return set(os.listdir(folder)) if folder.is_dir() else set()


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    allowed_top = set(released_jsons()) | {VIDEO_JSON} | set(SPLITS)
    for entry in sorted(os.listdir(out_root)):
        report.checked("layout")
        if entry not in allowed_top:
            report.fail("layout", entry, "stray entry")
    splits = [s for s in SPLITS if (out_root / s).is_dir()]
    for split in LABELLED:
        report.checked("layout")
        if split not in splits:
            report.fail("layout", split, "split folder missing")
    required = {f"panoptic_im_{s}_city_vps.json" for s in splits} | {f"im_all_info_{s}_city_vps.json" for s in splits
                                                                     if s != "train"}
    required |= {f"instances_{s}_city_vps_rle.json" for s in LABELLED}
    documents = {name: rules.read_json(report, "released jsons", out_root, name)
                 if name in required or (out_root / name).exists() else None for name in released_jsons()}
    video = rules.read_json(report, "video json", out_root, VIDEO_JSON) if "val" in splits else None
    frames: dict[str, list[tuple[str, str]]] = {}
    work: list[dict] = []
    for split in splits:
        for entry in sorted(os.listdir(out_root / split)):
            if entry not in _ALLOWED[split]:
                report.fail("layout", f"{split}/{entry}", "stray entry")
        name = f"panoptic_im_{split}_city_vps.json"
        frames[split] = _json_frames(documents.get(name), name, report)
        _check_videos(split, frames[split], report)
        expected = {"img": {f for _, f in frames[split]}}
        if split in LABELLED:
            expected["labelmap"] = expected["panoptic_inst"] = {label_name(f) for _, f in frames[split]}
        if split == "val":
            expected["panoptic_video"] = expected["labelmap"]
        if split != "train":
            name = f"im_all_info_{split}_city_vps.json"
            expected["img_all"] = set(_dense_names(documents.get(name), name, report))
            _check_dense(split, frames[split], expected["img_all"], report)
        present = {folder: _listing(out_root / split / folder) for folder in expected}
        for folder, names in expected.items():
            report.checked("files", len(names))
            for name in sorted(names - present[folder]):
                report.fail("files", f"{split}/{folder}/{name}", "missing")
            for name in sorted(present[folder] - names):
                report.fail("layout", f"{split}/{folder}/{name}", "stray file (not listed in the split's json)")
        for _, file_name in frames[split]:
            names = {"img": file_name, "labelmap": label_name(file_name), "panoptic_inst": label_name(file_name),
                     "panoptic_video": label_name(file_name)}
            if all(names[folder] in present[folder] for folder in expected if folder != "img_all"):
                work.append({"root": str(out_root), "split": split, "file_name": file_name})
        for name in sorted(expected.get("img_all", set()) & present.get("img_all", set())):
            work.append({"root": str(out_root), "split": split, "dense": name})
    segments = _check_video_json(video, documents, frames["val"], report) if video is not None else {}
    for item in work:
        if item["split"] == "val" and "file_name" in item:
            item["segments"] = segments.get(label_name(item["file_name"]))
    for split in LABELLED:
        if split in frames:
            _check_instance_json(documents, video, split, frames[split], report)
    results = parallel_map(check_frame, work, jobs, progress, "verify cityscapes-vps")
    for item, result in zip(work, results):
        if isinstance(result, Exception):
            folder = "img_all" if "dense" in item else "img"
            report.crashed("decode", f"{item['split']}/{folder}/{item.get('file_name') or item.get('dense')}", result)
            continue
        report.add(result)
    if official:
        _check_official(documents, frames, report)


def _json_frames(document: Any, name: str, report: Report) -> list[tuple[str, str]]:
    """(VPS id, file_name) of every image of a panoptic_im json, sorted; failures reported."""
    if document is None:
        return []
    out = []
    images = document.get("images") if isinstance(document, dict) else None
    for entry in images if isinstance(images, list) else []:
        match = _FRAME_FILE.match(str(entry.get("file_name") if isinstance(entry, dict) else entry))
        if match is None:
            report.fail("released jsons", name, f"image entry {entry!r} is not a VPS frame")
            return []
        out.append((match.group(1), match.group(0)))
    if not out:
        report.fail("released jsons", name, "no 'images' list")
    return sorted(out, key=lambda item: item[1])


def _dense_names(document: Any, name: str, report: Report) -> list[str]:
    if document is None:
        report.fail("released jsons", name, "missing (it lists the img_all frames)")
        return []
    images = document.get("images") if isinstance(document, dict) else None
    names = [e.get("file_name") for e in images if isinstance(e, dict)] if isinstance(images, list) else []
    bad = [n for n in names if _DENSE_FILE.match(str(n)) is None]
    if bad or not names:
        report.fail("released jsons", name, f"file names that are not Cityscapes frames: {bad[:3]}" if bad else
                    "no 'images' list")
        return [n for n in names if n not in bad]
    return names


def _check_videos(split: str, frames: list[tuple[str, str]], report: Report) -> None:
    """Every video: 6 frames, consecutive global frame numbers (Video K-Net's reference frame is id +- 1),
    one Cityscapes snippet, the gtFine frame among them."""
    videos: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for vps_id, file_name in frames:
        videos[vps_id[:4]].append((vps_id, file_name))
    for video, items in sorted(videos.items()):
        report.checked("videos")
        numbers = [int(vps_id[5:9]) for vps_id, _ in items]
        snippets = {vps_id.rsplit("_", 1)[0][10:] for vps_id, _ in items}
        problems = []
        if len(items) != FRAMES_PER_VIDEO:
            problems.append(f"{len(items)} frames, not {FRAMES_PER_VIDEO}")
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            problems.append(f"frame numbers {numbers} are not consecutive")
        if len(snippets) != 1:
            problems.append(f"frames of several Cityscapes snippets {sorted(snippets)}")
        if sum(f.endswith("_leftImg8bit.png") for _, f in items) != 1:
            problems.append("not exactly one Cityscapes (leftImg8bit) frame")
        if problems:
            report.fail("videos", f"{split}/img/{video}_*", "; ".join(problems))


def _check_dense(split: str, frames: list[tuple[str, str]], dense: set[str], report: Report) -> None:
    """img_all holds the 30 frames of every video's snippet (consecutive), the labelled ones included."""
    by_snippet: dict[str, list[int]] = defaultdict(list)
    for name in dense:
        stem = name[: -len("_leftImg8bit.png")]
        by_snippet[stem.rsplit("_", 1)[0]].append(int(stem.rsplit("_", 1)[1]))
    videos: dict[str, set[str]] = defaultdict(set)
    for vps_id, _ in frames:
        videos[vps_id[:4]].add(vps_id[10:])
    for video, stems in sorted(videos.items()):
        report.checked("img_all")
        snippet = sorted(stems)[0].rsplit("_", 1)[0]
        numbers = sorted(by_snippet.get(snippet, []))
        missing = sorted(s for s in stems if s.rsplit("_", 1)[0] != snippet or int(s.rsplit("_", 1)[1]) not in numbers)
        if len(numbers) != DENSE_FRAMES or rules.missing_frames(numbers) or missing:
            report.fail("img_all", f"{split}/img_all/{snippet}_*", f"{len(numbers)} frames of video {video}'s snippet "
                        f"(expected {DENSE_FRAMES} consecutive ones holding its labelled frames; labelled frames "
                        f"missing: {missing})")


def _categories_of(document: Any) -> list:
    categories = document.get("categories") if isinstance(document, dict) else None
    return categories if isinstance(categories, list) else []


def _things(categories: list, key: str) -> list:
    return [c.get(key) for c in categories if isinstance(c, dict) and c.get("isthing") == 1]


def _check_instance_json(documents: dict, video: Any, split: str, frames: list[tuple[str, str]],
                         report: Report) -> None:
    """What Video K-Net's CityscapesVPSDataset / CityscapesPanopticDataset need of instances_{split}_city_vps_rle.json."""
    name = f"instances_{split}_city_vps_rle.json"
    document = documents.get(name)
    report.checked("instance json")
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        report.fail("instance json", name, "missing or without an 'images' list")
        return
    problems = []
    cat_ids = [c.get("id") for c in document.get("categories", []) if isinstance(c, dict) and c.get("name") in THING_CLASSES]
    panoptic = documents.get(f"panoptic_im_{split}_city_vps.json")
    if _things(_categories_of(panoptic), "trainid") != cat_ids:
        problems.append(f"thing categories {cat_ids} differ from the thing trainids of panoptic_im_{split}_city_vps.json "
                        "(Video K-Net asserts they are equal)")
    if split == "val" and video is not None:
        if _things(_categories_of(video), "id") != cat_ids:
            problems.append(f"thing categories {cat_ids} differ from the thing ids of {VIDEO_JSON}")
    images = [i for i in document["images"] if isinstance(i, dict)]
    listed = {str(i.get("file_name")) for i in images}
    expected = {f for _, f in frames}
    if listed != expected:
        problems.append(f"images differ from panoptic_im_{split}_city_vps.json: missing "
                        f"{sorted(expected - listed)[:3]}, not in img/ {sorted(listed - expected)[:3]}")
    by_video: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for image in images:
        by_video[str(image.get("file_name"))[:4]].append((str(image.get("file_name")), image.get("id")))
    for video, items in sorted(by_video.items()):
        ids = [i for _, i in sorted(items)]
        if not all(isinstance(i, int) for i in ids) or ids != list(range(ids[0], ids[0] + len(ids))):
            problems.append(f"video {video}: image ids {ids} are not consecutive (the reference frame is id +- 1)")
            break
    if problems:
        report.fail("instance json", name, "; ".join(problems))


def _check_video_json(document: Any, documents: dict, frames: list[tuple[str, str]], report: Report) -> dict:
    """panoptic_gt_val_city_vps.json: frames in sorted order, ids and names derived as the official script does,
    the released categories; returns each frame's segments for the pixel checks."""
    try:
        images = [(i["id"], i["file_name"]) for i in document["images"]]
        annotations = [(a["image_id"], a["file_name"]) for a in document["annotations"]]
        segments = {a["file_name"]: [[s["id"], s["category_id"], s["iscrowd"], s["area"]] for s in a["segments_info"]]
                    for a in document["annotations"]}
    except (KeyError, TypeError) as exc:
        report.fail("video json", VIDEO_JSON, f"malformed ({exc})")
        return {}
    names = sorted(label_name(f) for _, f in frames)
    if images != [(n.rsplit("_", 2)[0], f) for n, (_, f) in zip(names, sorted(frames, key=lambda x: label_name(x[1])))] \
            or annotations != [(n.rsplit("_", 2)[0], n) for n in names]:
        report.fail("video json", VIDEO_JSON, f"images/annotations ({len(images)}/{len(annotations)}) differ from the "
                                              f"val frames ({len(names)}) or are out of order")
    released = _categories_of(documents.get("panoptic_im_val_city_vps.json"))
    report.checked("video json")
    if document.get("categories") != released:
        report.fail("video json", VIDEO_JSON, "categories differ from those of panoptic_im_val_city_vps.json")
    return segments


def check_frame(item: dict) -> list[tuple[str, str, str | None]]:
    """Pixel checks of one frame (or, for an img_all frame, its PNG structure)."""
    root, split = Path(item["root"]), item["split"]
    out: list[tuple[str, str, str | None]] = []
    if "dense" in item:
        check_image(root / split / "img_all" / item["dense"], f"{split}/img_all/{item['dense']}", out)
        return out
    size = check_image(root / split / "img" / item["file_name"], f"{split}/img/{item['file_name']}", out)
    if split not in LABELLED:
        return out
    name = label_name(item["file_name"])
    kinds = {"labelmap": (GRAY8, "an 8-bit grayscale PNG"), "panoptic_inst": (GRAY16, "a 16-bit grayscale PNG"),
             "panoptic_video": (RGB8, "an 8-bit RGB PNG")}
    maps = {}
    for folder in ("labelmap", "panoptic_inst") + (("panoptic_video",) if split == "val" else ()):
        rel = f"{split}/{folder}/{name}"
        array = check_map(root / rel, rel, *kinds[folder], size, out)
        if array is not None:
            maps[folder] = array
    if "labelmap" in maps and "panoptic_inst" in maps and maps["labelmap"].shape == maps["panoptic_inst"].shape:
        out += _check_values(split, name, maps, item.get("segments"))
    return out


def _check_values(split: str, name: str, maps: dict, segments: list | None) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    label, panoptic = maps["labelmap"], maps["panoptic_inst"]
    label_rel, panoptic_rel = f"{split}/labelmap/{name}", f"{split}/panoptic_inst/{name}"
    bad = rules.unexpected_values(label, list(range(vps.NUM_CLASSES)) + [vps.VOID])
    out.append(("values", label_rel, f"values outside 0-18/255: {bad[:10]}" if bad else None))
    present = np.flatnonzero(np.bincount(panoptic.ravel(), minlength=1 << 16))
    bad = [int(v) for v in present if not vps.valid_panoptic_values()[v]]
    out.append(("values", panoptic_rel, f"values that are neither 255, a stuff trainId nor thing trainId*1000+k: "
                                        f"{bad[:10]}" if bad else None))
    # where panoptic_inst holds no instance it is the stuff class of the labelmap, or void
    no_instance = panoptic < vps.DIVISOR
    expected = np.take(np.where(np.arange(256) < 11, np.arange(256), vps.VOID).astype(np.uint16), label)
    differ = int((no_instance & (panoptic != expected)).sum())
    out.append(("agree", panoptic_rel, f"{differ:,} pixels outside instances disagree with the labelmap's stuff "
                                       "classes" if differ else None))
    if "panoptic_video" in maps:
        rel = f"val/panoptic_video/{name}"
        video = maps["panoptic_video"]
        differ = int((video != vps.panoptic_video_rgb(panoptic)).any(axis=-1).sum()) if video.shape[-1:] == (3,) else -1
        out.append(("panoptic_video", rel, None if differ == 0 else f"segment ids differ from panoptic_inst + 1 on "
                                                                    f"{differ:,} pixels" if differ > 0 else
                    f"not an RGB map (shape {video.shape})"))
        if segments is None:
            out.append(("video json", rel, f"the frame is not in {VIDEO_JSON}"))
        else:
            expected_segments = vps.video_segments(panoptic)
            out.append(("video json", rel, None if segments == expected_segments else
                        f"segments_info differs from the PNG: listed ids {[s[0] for s in segments][:8]}, areas ... "
                        f"(PNG: {[s[0] for s in expected_segments][:8]})"))
    return out


def _check_official(documents: dict, frames: dict[str, list[tuple[str, str]]], report: Report) -> None:
    counts, videos = {}, {}
    for split in SPLITS:
        listed = frames.get(split)
        if listed is None:  # the split was not prepared: count its json's frames
            name = f"panoptic_im_{split}_city_vps.json"
            listed = _json_frames(documents.get(name), name, Report("")) if documents.get(name) else []
        counts[split] = len(listed)
        videos[split] = len({vps_id[:4] for vps_id, _ in listed})
    for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
        report.fail("official counts", "panoptic_im_*_city_vps.json", f"frames of {message}")
    for message in rules.count_mismatches(videos, PUBLISHED_VIDEOS):
        report.fail("official counts", "panoptic_im_*_city_vps.json", f"videos of {message}")
    dense = {}
    for split in ("val", "test"):
        document = documents.get(f"im_all_info_{split}_city_vps.json")
        images = document.get("images") if isinstance(document, dict) else None
        dense[split] = len(images) if isinstance(images, list) else 0
    for message in rules.count_mismatches(dense, {s: DENSE_FRAMES * PUBLISHED_VIDEOS[s] for s in dense}):
        report.fail("official counts", "im_all_info_*_city_vps.json", f"img_all frames of {message}")
    report.checked("official counts", 3 * len(SPLITS) - 1)


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


def report_section(recipe: Recipe, out_root: Path) -> ReportSection:
    section = ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, categories())
    frames: dict[str, list[str]] = {}
    for split in SPLITS:
        path = out_root / f"panoptic_im_{split}_city_vps.json"
        listed = sorted(f for _, f in _json_frames(json.loads(path.read_bytes()), path.name, Report(""))) \
            if path.is_file() else []
        present = sorted(set(listed) & _listing(out_root / split / "img"))
        frames[split] = present
        section.counts.append(CountRow(split, "frames", len(present), PUBLISHED_FRAMES[split]))
        section.counts.append(CountRow(split, "videos", len({f[:4] for f in present}), PUBLISHED_VIDEOS[split]))
    video_json_path = out_root / VIDEO_JSON
    if video_json_path.is_file():
        pixels, tracks = [0] * vps.NUM_CLASSES, set()
        for annotation in json.loads(video_json_path.read_bytes())["annotations"]:
            for s in annotation["segments_info"]:
                pixels[s["category_id"]] += s["area"]
                if s["category_id"] in vps.THING_TRAIN_IDS and not s["iscrowd"]:
                    tracks.add((annotation["image_id"][:4], s["id"]))
        instances = np.bincount([(i - 1) // vps.DIVISOR for _, i in tracks], minlength=vps.NUM_CLASSES)
        section.stats = ClassStats(pixels, instances[: vps.NUM_CLASSES].tolist(),
                                   f"val, from {VIDEO_JSON}; instances are tracks (video, id)")

    def view(file_name: str) -> LabelView:
        rel = f"val/panoptic_inst/{label_name(file_name)}"
        panoptic = decode_png_fast((out_root / rel).read_bytes(), rel)
        return panoptic_view(file_name[: -len(".png")], out_root / "val/img" / file_name, panoptic, rel)

    labelled = [f for f in frames["val"] if (out_root / "val/panoptic_inst" / label_name(f)).is_file()]
    section.frames = [view(f) for f in evenly_spaced(labelled, 4)]
    if labelled:
        first_video = [f for f in labelled if f[:4] == labelled[0][:4]]
        section.strips = [[view(f) for f in first_video]]
    return section
