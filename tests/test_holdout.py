"""--holdout: the seeded stratified split (encodings/holdout.py), the files it writes for YouTube-VIS and
OVIS, verify's partition check, and mmdet's YouTube-VIS evaluator scoring valid_sub at AP 1.0."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segprep import api
from segprep.encodings import holdout
from ytvis_reference import reference_cocovid

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools + numpy 2
VIDEOS = [(f"v{i:02d}", {i % 5 + 1} | ({9} if i in (3, 17) else set())) for i in range(20)]
SUB_FILES = ("train_sub.json", "valid_sub.json", "valid_sub_videos.txt")


# ---------------------------------------------------------------------------- the algorithm


def test_the_split_is_pinned_and_documented():
    """Golden values: a change of algorithm must change ALGORITHM (and these), never silently the split."""
    assert holdout.ALGORITHM == "segprep-holdout-1"
    assert holdout.rank_key(0, "v00") == "124719e057bd3987a93315b9cc3626cd94f1e053a983e4ec7064757848afbeab"
    assert holdout.split(VIDEOS, "0.25", 0) == (["v03", "v00", "v06", "v19", "v12"], [])
    assert holdout.split(VIDEOS, "0.25", 1) == (["v19", "v01", "v17", "v08", "v10"], [])
    # 3 asked, but six classes need a held-out video each and v03 serves two: five
    assert holdout.split(VIDEOS, "3", 0)[0] == ["v03", "v00", "v06", "v19", "v12"]


def test_the_split_does_not_depend_on_python_hash_randomisation():
    code = ("from segprep.encodings import holdout; videos = [(f'x{i}', {i % 7, i % 3 + 10}) for i in range(60)]; "
            "print(holdout.split(videos, '0.2', 42))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ("0", "1", "12345")}
    assert len(outputs) == 1


@pytest.mark.parametrize("seed", range(12))
def test_every_class_with_two_videos_is_on_both_sides(seed):
    rng = np.random.default_rng(seed)  # only to build varied inputs; the split itself uses no RNG
    videos = [(f"video{i}", set(rng.choice(25, size=int(rng.integers(0, 4)), replace=False).tolist()))
              for i in range(int(rng.integers(8, 120)))]
    amount = ["0.1", "0.5", "0.02", "7"][seed % 4]
    held, unbalanced = holdout.split(videos, amount, seed)
    held = set(held)
    assert 0 < len(held) < len(videos)
    for cls in {c for _, classes in videos for c in classes}:
        members = [name for name, classes in videos if cls in classes]
        if len(members) >= 2 and cls not in unbalanced:
            assert held & set(members) and set(members) - held, cls
    target = holdout.target_count(amount, len(videos))
    assert len(held) >= target


def test_amounts():
    assert holdout.parse_amount("0.1") == ("fraction", holdout.Decimal("0.1"))
    assert holdout.parse_amount("60") == ("count", 60)
    for bad in ("0", "1.5", "-3", "abc", "nan", "inf", ""):
        with pytest.raises(ValueError, match="--holdout"):
            holdout.parse_amount(bad)
    assert holdout.target_count("0.1", 607) == 61 and holdout.target_count("0.25", 2) == 1  # 0.5 rounds half up
    assert holdout.target_count("0.05", 10) == 1 and holdout.target_count("900", 607) == 606


# ---------------------------------------------------------------------------- the files


@pytest.fixture(scope="module", params=["ovis", "youtube-vis-2019", "youtube-vis-2021"])
def prepared(request, tmp_path_factory):
    name = request.param
    root = tmp_path_factory.mktemp("holdout")
    options = {"frames": 3} if name == "ovis" else {"frames": 3}
    raw = api.sample(name, root / "raw", options=options, jobs=1)
    summary = api.prepare(name, raw, root / "data", jobs=2, quiet=True, options={"holdout": "1", "holdout_seed": 7})
    assert summary.ok, summary.failures
    folder = {"ovis": "ovis", "youtube-vis-2019": "youtube_vis_2019", "youtube-vis-2021": "youtube_vis_2021"}[name]
    version = {"ovis": "ovis", "youtube-vis-2019": "2019", "youtube-vis-2021": "2021"}[name]
    official = "annotations_train.json" if name == "ovis" else "train.json"
    return name, raw, root / "data", root / "data" / folder / "annotations", version, official


def test_the_halves_partition_train_in_both_schemas(prepared):
    name, _, data, annotations, version, official_name = prepared
    official = json.loads((annotations / official_name).read_bytes())
    train, valid = (json.loads((annotations / f"{p}.json").read_bytes()) for p in ("train_sub", "valid_sub"))
    ids = [v["id"] for v in official["videos"]]
    assert sorted([v["id"] for v in train["videos"]] + [v["id"] for v in valid["videos"]]) == sorted(ids)
    assert len(valid["videos"]) == 1
    assert (annotations / "valid_sub_videos.txt").read_text() == f"{valid['videos'][0]['id']}\n"
    for part in (train, valid):
        kept = {v["id"] for v in part["videos"]}
        assert part["annotations"] == [t for t in official["annotations"] if t["video_id"] in kept]
        assert part["categories"] == official["categories"] and list(part) == list(official)
        info = part["info"]["segprep_holdout"]
        assert info["seed"] == 7 and info["holdout"] == "1" and info["algorithm"] == holdout.ALGORITHM
        assert {k: v for k, v in part["info"].items() if k != "segprep_holdout"} == official["info"]
    for part_name, part in (("train_sub", train), ("valid_sub", valid)):
        cocovid = json.loads((annotations / f"youtube_vis_{version}_{part_name}.json").read_bytes())
        assert cocovid.pop("info") == {"segprep_holdout": part["info"]["segprep_holdout"]}
        assert cocovid == json.loads(json.dumps(reference_cocovid(part, "train")))  # annotations in both halves
        assert cocovid["annotations"]
    report = api.verify(name, data, jobs=1, quiet=True)
    assert report.ok and report._checks["holdout"].checked == 5


def test_same_options_same_bytes_and_a_new_seed_redoes_only_the_split(prepared, tmp_path):
    name, raw, data, annotations, _, _ = prepared
    again = api.prepare(name, raw, tmp_path / "data", jobs=1, quiet=True, options={"holdout": "1", "holdout_seed": 7})
    assert again.ok
    folder = annotations.parent.name
    for rel in os.listdir(annotations):
        assert (tmp_path / "data" / folder / "annotations" / rel).read_bytes() == (annotations / rel).read_bytes()
    other = api.prepare(name, raw, tmp_path / "data", jobs=1, quiet=True, options={"holdout": "1", "holdout_seed": 8})
    assert other.ok and other.written == 1 and other.skipped == again.written - 1


def test_verify_catches_halves_that_do_not_partition_train(prepared, tmp_path):
    name, _, data, annotations, _, _ = prepared
    copy = tmp_path / "data"
    shutil.copytree(data / annotations.parent.name, copy / annotations.parent.name)
    path = copy / annotations.parent.name / "annotations/train_sub.json"
    document = json.loads(path.read_bytes())
    document["videos"] = document["videos"][1:]
    path.write_text(json.dumps(document))
    (copy / annotations.parent.name / "annotations/valid_sub_videos.txt").write_text("12345\n")
    report = api.verify(name, copy, jobs=1, quiet=True)
    messages = [f.message for f in report.findings if f.check == "holdout"]
    assert any("do not partition" in m for m in messages) and any("differs from the train_sub" in m for m in messages)
    assert any(f.path.endswith("valid_sub_videos.txt") for f in report.findings)


@pytest.mark.parametrize("target", ["valid_sub.json", "cocovid"])
def test_verify_catches_a_wrong_number_deep_in_a_holdout_file(prepared, tmp_path, target):
    name, _, data, annotations, version, _ = prepared
    copy = tmp_path / "data"
    shutil.copytree(data / annotations.parent.name, copy / annotations.parent.name)
    rel = "valid_sub.json" if target == "valid_sub.json" else f"youtube_vis_{version}_valid_sub.json"
    path = copy / annotations.parent.name / "annotations" / rel
    document = json.loads(path.read_bytes())
    if target == "valid_sub.json":
        track = document["annotations"][-1]
        frame = max(i for i, a in enumerate(track["areas"]) if a is not None)
        track["areas"][frame] += 1
    else:
        document["annotations"][-1]["area"] += 1
    path.write_text(json.dumps(document))
    report = api.verify(name, copy, jobs=1, quiet=True)
    assert [(f.check, f.path.split("/")[-1]) for f in report.findings if f.check == "holdout"] == [("holdout", rel)]


def test_a_bad_amount_is_refused_before_anything_is_written(tmp_path):
    raw = api.sample("ovis", tmp_path / "raw", options={"frames": 2}, jobs=1)
    from segprep.errors import SegprepError

    with pytest.raises(SegprepError, match="--holdout '1.5'"):
        api.prepare("ovis", raw, tmp_path / "data", quiet=True, options={"holdout": "1.5"})
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------- a real evaluator


def _results_from_ground_truth(document: dict) -> list[dict]:
    """Each track of valid_sub as a detection with score 1 (masks as compressed RLE, as results are)."""
    sizes = {v["id"]: (v["height"], v["width"]) for v in document["videos"]}
    results = []
    for track in document["annotations"]:
        height, width = sizes[track["video_id"]]
        masks = []
        for seg in track["segmentations"]:
            if seg is None:
                masks.append(None)
            elif isinstance(seg["counts"], list):
                masks.append(mask_utils.frPyObjects(seg, height, width))
            else:
                masks.append(dict(seg, counts=seg["counts"].encode()))
        results.append({"video_id": track["video_id"], "category_id": track["category_id"], "score": 1.0,
                        "segmentations": masks})
    return results


def test_mmdets_youtube_vis_evaluator_scores_valid_sub_against_itself_at_ap_1(prepared, capsys):
    import mmdet_ytvis_oracle

    try:
        ytvis, ytviseval = mmdet_ytvis_oracle.load()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    _, _, _, annotations, _, _ = prepared
    results = _results_from_ground_truth(json.loads((annotations / "valid_sub.json").read_bytes()))

    def evaluate(detections: list[dict]):
        ground_truth = ytvis.YTVIS(str(annotations / "valid_sub.json"))
        evaluation = ytviseval.YTVISeval(ground_truth, ground_truth.loadRes(detections), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        capsys.readouterr()
        return evaluation

    evaluation = evaluate(results)
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP @[IoU=0.50:0.95 | area=all]
    assert evaluation.stats[1] == pytest.approx(1.0)  # AP50
    assert len(evaluation.params.vidIds) == 1 and len(results) >= 2
    assert evaluate(results[1:]).stats[8] < 1.0  # AR@10 drops without a track: the evaluator is really scoring


def test_holdout_without_the_train_split_is_a_warning(tmp_path):
    raw = api.sample("ovis", tmp_path / "raw", options={"frames": 2}, jobs=1)
    from segprep.datasets.ovis import OVIS

    plan = OVIS().plan(raw, tmp_path / "data/ovis", {"splits": "valid", "holdout": "0.5"})
    assert plan.warnings == ["--holdout: the train split is not prepared, so no holdout split is written"]
