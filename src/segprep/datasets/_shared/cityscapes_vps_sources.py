"""The Cityscapes-VPS download as Cityscapes-VPS and -DVPS both find it under --raw: the released jsons,
the cls/inst maps of every labelled frame, the val sequence frames and the gtFine val maps."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprep.datasets.base import Download, Option
from segprep.datasets._shared.cityscapes import GT
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io.archives import Archive, find_archive, list_members, nested
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs, read_once


SPLITS = ("train", "val", "test")
LABELLED = ("train", "val")


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
    home="cityscapes",
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


def _videos_option(text: str) -> dict[str, int]:
    try:
        counts = [int(v) for v in str(text).split(",")]
        if len(counts) != 3 or min(counts) < 1:
            raise ValueError
    except ValueError:
        raise SegprepError(f"--videos {text}: give three positive numbers, train,val,test (e.g. 2,2,1)") from None
    return dict(zip(SPLITS, counts))


VIDEO_SAMPLE_OPTIONS = (  # the sample options of Cityscapes-VPS and -DVPS (parsed by _videos_option)
    Option("videos", "videos per split as train,val,test", "2,2,1"),
    Option("width", "frame width (height = width / 2; Cityscapes: 2048)", 512, int),
)


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
