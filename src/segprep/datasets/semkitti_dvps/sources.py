"""Finding the SemKITTI-DVPS downloads under --raw: the DVPS annotations and the KITTI odometry images."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from segprep.datasets._shared.dvps import find_video_sequence
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import find_archive, list_members
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs
from segprep.datasets.semkitti_dvps import ANNOTATIONS, IMAGES, SEQUENCES, split_of


_KEYWORDS = ("video_sequence", "dvps", "semkitti")
_ANNOTATION = re.compile(r"(?:^|/)(?:video_sequence/)?(train|val)/(\d{6}_\d{6}_(?:gtFine_class|gtFine_instance|"
                         r"depth_\d+(?:\.\d+)?)\.png)$")
_IMAGE = re.compile(r"(?:^|/)sequences/(\d{2})/image_2/(\d{6})\.png$")


# ---------------------------------------------------------------------- inputs


def find_annotations(raw: Path) -> tuple[dict[tuple[str, int, int], dict[str, tuple[str, Source]]], list[str]]:
    """(split, seq, frame) -> kind ("gtFine_class", "gtFine_instance", "depth") -> (file name, source)."""
    found, notes = find_video_sequence(raw, _ANNOTATION, _KEYWORDS, "SemKITTI-DVPS annotation files", ANNOTATIONS)
    out: dict[tuple[str, int, int], dict[str, tuple[str, Source]]] = defaultdict(dict)
    for (split, name), source in sorted(found.items()):
        seq, frame = int(name[:6]), int(name[7:13])
        if seq not in SEQUENCES or split_of(seq) != split:
            raise BadInput(f"{source.describe()}: sequence {seq:02d} is filed under '{split}', but SemKITTI-DVPS puts "
                           f"sequence 08 in val and 00-07, 09, 10 in train; use the official annotation archive")
        kind = "depth" if name[14:].startswith("depth_") else name[14:-4]
        files = out[(split, seq, frame)]
        if kind in files:
            raise BadInput(f"two {kind} files for the frame {seq:06d}_{frame:06d}: {files[kind][0]} and {name}")
        if kind == "depth" and not float(name[20:-4]) > 0:
            raise BadInput(f"{source.describe()}: the focal length in the name ({name[20:-4]}) is not positive")
        files[kind] = (name, source)
    return dict(out), notes


def find_images(raw: Path) -> tuple[dict[tuple[int, int], Source], list[str]]:
    """(seq, frame) -> KITTI odometry image_2 frame of sequences 00-10: extracted sequences/ first, then the zip."""
    images: dict[tuple[int, int], Source] = {}
    notes: list[str] = []
    for anchor in find_dirs(raw, {"sequences"}, 3):
        count = 0
        for seq in SEQUENCES:
            folder = anchor / f"{seq:02d}" / "image_2"
            if not folder.is_dir():
                continue
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if re.fullmatch(r"\d{6}\.png", entry.name) and entry.is_file() and (seq, int(entry.name[:6])) not in images:
                    images[(seq, int(entry.name[:6]))] = FileSource.of(entry.path)
                    count += 1
        if count:
            notes.append(f"{anchor}: {count:,} images of sequences 00-10 (extracted)")
    for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
        archive = find_archive(folder, IMAGES.filename)
        if archive is None:
            continue
        count = 0
        for member in list_members(archive):
            match = _IMAGE.search(member.name)
            if match and int(match.group(1)) in SEQUENCES:
                key = (int(match.group(1)), int(match.group(2)))
                if key not in images:
                    images[key] = MemberSource(archive, member)
                    count += 1
        notes.append(f"{archive.display}: {count:,} images of sequences 00-10 (random access)")
        break
    if not images:
        raise MissingInput(f"no KITTI odometry colour images (sequences/{{seq}}/image_2/) under {raw}. Expected:\n"
                           f"  - {IMAGES.describe()}")
    return images, notes
