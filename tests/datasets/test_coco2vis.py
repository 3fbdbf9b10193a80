"""prepare coco --coco2vis: the pseudo-video files DVIS/MinVIS/GenVIS/CTVIS configs read, against a plain
reading of what DVIS's convert_coco2ytvis.py writes (every member kept, annotations of the mapped COCO
classes only and last, COCO ids kept)."""

import json
import shutil

import pytest

from segprep import api
from segprep.datasets.coco.coco2vis import COCO_TO

TARGETS = ("ytvis2019", "ytvis2021", "ovis")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco2vis")
    raw = api.sample("coco", root / "raw", jobs=1)
    summary = api.prepare("coco", raw, root / "data", jobs=2, quiet=True, options={"coco2vis": True})
    assert summary.ok, summary.failures
    return raw, root / "data"


def plain_reading(instances: dict, keys: set) -> dict:
    out = {k: v for k, v in instances.items() if k != "annotations"}
    out["annotations"] = [a for a in instances["annotations"] if a["category_id"] in keys]
    return out


@pytest.mark.parametrize("split", ["train", "val"])
@pytest.mark.parametrize("target", TARGETS)
def test_files_hold_what_dvis_script_writes(prepared, split, target):
    _, data = prepared
    annotations = data / "coco/annotations"
    instances = json.loads((annotations / f"instances_{split}2017.json").read_bytes())
    ours = (annotations / f"coco2{target}_{split}.json").read_bytes()
    expected = plain_reading(instances, set(COCO_TO[target]))
    assert json.loads(ours) == expected and list(json.loads(ours)) == list(expected)
    assert ours == json.dumps(expected).encode()  # json.dump of the same dict: the same bytes as their script
    assert expected["annotations"] and len(expected["annotations"]) < len(instances["annotations"])


def test_the_maps_are_the_published_ones():
    assert COCO_TO["ovis"] == {1: 1, 2: 21, 3: 25, 4: 22, 5: 23, 6: 25, 8: 25, 9: 24, **{c: c - 14 for c in range(17, 26)}}
    assert len(COCO_TO["ytvis2019"]) == 21 and len(COCO_TO["ytvis2021"]) == 23


def test_verify_catches_an_edited_file_and_a_rerun_skips(prepared, tmp_path):
    raw, data = prepared
    again = api.prepare("coco", raw, data, jobs=1, quiet=True, options={"coco2vis": True})
    assert again.ok and again.written == 0
    copy = tmp_path / "data"
    shutil.copytree(data / "coco", copy / "coco")
    path = copy / "coco/annotations/coco2ovis_train.json"
    document = json.loads(path.read_bytes())
    document["annotations"] = document["annotations"][1:]
    path.write_text(json.dumps(document))
    (copy / "coco/annotations/coco2ytvis2019_val.json").unlink()
    report = api.verify("coco", copy, jobs=1, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    assert failed == {("coco2vis", "annotations/coco2ovis_train.json"),
                      ("coco2vis", "annotations/coco2ytvis2019_val.json")}


def test_without_the_option_nothing_is_written(tmp_path):
    raw = api.sample("coco", tmp_path / "raw", jobs=1)
    assert api.prepare("coco", raw, tmp_path / "data", jobs=1, quiet=True).ok
    assert not list((tmp_path / "data/coco/annotations").glob("coco2*"))
