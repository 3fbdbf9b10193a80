"""What only Cityscapes-VPS reads of its download (the finding itself is shared with DVPS:
``datasets/_shared/cityscapes_vps_sources.py``): the img_all frames, the categories, unused label maps."""

from __future__ import annotations

from segprep.errors import BadInput
from segprep.datasets._shared.cityscapes_vps_sources import Frame, Inputs, _DENSE_FILE


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
