"""``--holdout``: a local validation split of the training videos, for the YouTube-VIS and OVIS recipes.

The valid/test servers of these datasets (CodaLab) stopped taking submissions on 2026-01-20, so
results are reported on a held-out part of train. One task reads the official train json and writes,
beside it in ``annotations/``:

- ``train_sub.json`` / ``valid_sub.json``: official format (BoxVIS's names), every top-level member
  of the official file kept, ``videos`` and ``annotations`` filtered by video (each track's bytes
  copied unchanged), ``info`` extended with ``segprep_holdout`` (algorithm, amount, seed, part, counts);
- ``youtube_vis_<version>_{train,valid}_sub.json``: their CocoVID conversions (the same converter and
  rules as the full files; annotations in both, so valid_sub can be scored), with the same ``info``;
- ``valid_sub_videos.txt``: the held-out official video ids, one per line, in json order.

The split itself is ``encodings/holdout.py`` (a documented, seeded, stratified algorithm). Frames are
not copied: both halves point into ``train/``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.checks.rules import same_as_chunks
from segprep.datasets.base import Option
from segprep.encodings import holdout
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, SegprepError
from segprep.io.jsonscan import JsonScanner
from segprep.io.sources import Source

OPTIONS = (
    Option("holdout", "also write a local validation split of train: a fraction (0.1) or a count (60) of the "
           "training videos, stratified by class (train_sub.json, valid_sub.json, their CocoVID files, "
           "valid_sub_videos.txt)", "", shapes_output=False),
    Option("holdout-seed", "seed of the --holdout split (the same seed and amount give the same split anywhere)", 0,
           int, shapes_output=False),
)
PARTS = ("train_sub", "valid_sub")
LIST_NAME = "annotations/valid_sub_videos.txt"


def official_name(part: str) -> str:
    return f"annotations/{part}.json"


def cocovid_name(version: str, part: str) -> str:
    return f"annotations/youtube_vis_{version}_{part}.json"


def outputs(version: str) -> tuple[str, ...]:
    return tuple(official_name(p) for p in PARTS) + tuple(cocovid_name(version, p) for p in PARTS) + (LIST_NAME,)


def tasks(options: dict[str, Any], version: str, source: Source, official_rel: str) -> list[Task]:
    """The holdout task when ``--holdout`` is given (its amount and seed are its params, so changing them
    redoes only this task)."""
    amount = str(options.get("holdout") or "").strip()
    if not amount:
        return []
    try:
        holdout.parse_amount(amount)
    except ValueError as exc:
        raise SegprepError(str(exc)) from None
    seed = int(options.get("holdout_seed") or 0)
    params = {"version": version, "holdout": amount, "seed": seed, "official": official_rel}
    return [Task("annotations/holdout", write_holdout, (source,), outputs(version), params, "holdout split")]


def unused(options: dict[str, Any], planned: list[Task]) -> list[str]:
    """A warning when --holdout was given but the train split is not prepared (so no split is made)."""
    if str(options.get("holdout") or "").strip() and not any(t.action is write_holdout for t in planned):
        return ["--holdout: the train split is not prepared, so no holdout split is written"]
    return []


# ---------------------------------------------------------------------- the task (in a worker)


@dataclass
class _Split:
    """The official train json read once (members, track spans) and the split computed from it."""

    scanner: JsonScanner
    members: list[tuple[str, Any]]
    spans: list[tuple[int, int, Any]]
    videos: list[dict]
    held: set
    unbalanced: list[int]

    def info(self, params: dict, part: str) -> dict:
        return holdout.info_record(params["holdout"], params["seed"], part, len(self.held), len(self.videos),
                                   self.unbalanced, Path(params["official"]).name)

    def part_chunks(self, part: str, info: dict) -> Iterator[bytes]:
        held = self.held
        keep = (lambda vid: vid in held) if part == "valid_sub" else (lambda vid: vid not in held)
        return _subset_chunks(self.scanner, self.members, self.spans, keep, info)

    def listing(self) -> bytes:
        return "".join(f"{v['id']}\n" for v in self.videos if v["id"] in self.held).encode()


def _read_split(fileobj, name: str, params: dict) -> _Split:
    from segprep.encodings.cocovid import _RAW_SEGMENTATIONS, _check_videos

    scanner = JsonScanner(fileobj, name)
    members: list[tuple[str, Any]] = []
    spans: list[tuple[int, int, Any]] = []
    classes: dict[Any, set] = defaultdict(set)
    for member in scanner.members():
        if member.key == "annotations" and member.is_array():
            for start, end, ann in member.elements(raw=_RAW_SEGMENTATIONS):
                if not isinstance(ann, dict):
                    raise BadInput(f"{name}: an annotation at byte {start:,} is not an object")
                spans.append((start, end, ann.get("video_id")))
                if isinstance(ann.get("category_id"), int) and any(b is not None for b in ann.get("bboxes") or ()):
                    classes[ann.get("video_id")].add(ann["category_id"])
            members.append(("annotations", None))
        else:
            members.append((member.key, member.value()))
    videos = _check_videos(name, dict(members).get("videos"))
    names = [v["file_names"][0].split("/")[0] for v in videos]
    try:
        held_names, unbalanced = holdout.split([(n, classes.get(v["id"], ())) for n, v in zip(names, videos)],
                                               params["holdout"], params["seed"])
    except ValueError as exc:
        raise BadInput(f"{name}: {exc}") from None
    held = {v["id"] for n, v in zip(names, videos) if n in set(held_names)}
    return _Split(scanner, members, spans, videos, held, unbalanced)


def write_holdout(ctx: TaskContext, task: Task) -> dict:
    from segprep.encodings.cocovid import convert

    source, p = task.inputs[0], task.params
    with ctx.open(source) as f:
        split = _read_split(f, source.describe(), p)
        for part in PARTS:
            info = split.info(p, part)
            rel = official_name(part)
            ctx.write_chunks(rel, split.part_chunks(part, info))
            with open(ctx.out_root / rel, "rb") as sub:
                chunks, _ = convert(sub, rel, p["version"], "train")
                ctx.write_chunks(cocovid_name(p["version"], part), _with_info(chunks, info))
    ctx.write_bytes(LIST_NAME, split.listing())
    return {"train_sub": len(split.videos) - len(split.held), "valid_sub": len(split.held),
            "classes_not_on_both_sides": split.unbalanced}


def _subset_chunks(scanner: JsonScanner, members: list, spans: list, keep, info: dict) -> Iterator[bytes]:
    keys = [key for key, _ in members]
    if "info" not in keys:
        members = [("info", {})] + members
    yield b"{"
    for index, (key, value) in enumerate(members):
        yield (", " if index else "").encode() + json.dumps(key).encode() + b": "
        if key == "annotations":
            yield b"["
            first = True
            for start, end, video_id in spans:
                if keep(video_id):
                    yield (b"" if first else b", ") + scanner.read(start, end)
                    first = False
            yield b"]"
        elif key == "videos":
            yield json.dumps([v for v in value if keep(v["id"])]).encode()
        elif key == "info":
            yield json.dumps((value if isinstance(value, dict) else {"original": value}) |
                             {"segprep_holdout": info}).encode()
        else:
            yield json.dumps(value).encode()
    yield b"}"


def _with_info(chunks: Iterator[bytes], info: dict) -> Iterator[bytes]:
    first = True
    for chunk in chunks:
        if first:
            assert chunk.startswith(b"{")
            chunk = b'{"info": ' + json.dumps({"segprep_holdout": info}).encode() + b", " + chunk[1:]
            first = False
        yield chunk


# ---------------------------------------------------------------------- verify


def _video_ids(path: Path) -> list:
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            if member.key == "videos":
                return [v.get("id") for v in member.value()]
    raise BadInput(f"{path.name} has no 'videos'")


def _info(path: Path) -> dict:
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            if member.key == "info":
                value = member.value()
                return value.get("segprep_holdout", {}) if isinstance(value, dict) else {}
    return {}


def verify(out_root: Path, report: Report, version: str, official_rel: str) -> None:
    """When a holdout split is present: its halves partition the official training videos exactly, and
    every file is what the split recorded in its ``info`` (amount, seed) gives, byte for byte."""
    names = outputs(version)
    present = [rel for rel in names if (out_root / rel).is_file()]
    if not present:
        return
    report.checked("holdout", len(names))
    for rel in names:
        if rel not in present:
            report.fail("holdout", rel, "missing (the other holdout files are present): rerun prepare --holdout")
    if len(present) != len(names) or not (out_root / official_rel).is_file():
        return
    try:
        everything = _video_ids(out_root / official_rel)
        parts = {part: _video_ids(out_root / official_name(part)) for part in PARTS}
        infos = {part: _info(out_root / official_name(part)) for part in PARTS}
    except SegprepError as exc:
        report.fail("holdout", official_name("train_sub"), str(exc))
        return
    train, valid = parts["train_sub"], parts["valid_sub"]
    overlap = sorted(set(train) & set(valid), key=str)
    if overlap:
        report.fail("holdout", official_name("valid_sub"), f"{len(overlap)} videos are in both halves: {overlap[:5]}")
    if sorted(train + valid, key=str) != sorted(everything, key=str):
        missing = sorted(set(everything) - set(train) - set(valid), key=str)
        extra = sorted((set(train) | set(valid)) - set(everything), key=str)
        report.fail("holdout", official_name("train_sub"), f"the halves do not partition the {len(everything)} "
                    f"training videos of {official_rel}: missing {missing[:5]}, not in train {extra[:5]}")
    recorded = infos["valid_sub"]
    if recorded.get("algorithm") != holdout.ALGORITHM or "seed" not in recorded or "holdout" not in recorded:
        report.fail("holdout", official_name("valid_sub"), "info.segprep_holdout lacks the algorithm, amount or seed")
        return
    _check_regenerated(out_root, report, version, official_rel, recorded)


def _check_regenerated(out_root: Path, report: Report, version: str, official_rel: str, recorded: dict) -> None:
    """Each file against what the recorded amount and seed give from the official train json."""
    from segprep.encodings.cocovid import convert

    params = {"holdout": recorded["holdout"], "seed": recorded["seed"], "official": official_rel}
    with open(out_root / official_rel, "rb") as f:
        try:
            split = _read_split(f, official_rel, params)
        except SegprepError as exc:
            report.fail("holdout", official_rel, str(exc))
            return
        for part in PARTS:
            info = split.info(params, part)
            rel = official_name(part)
            if not same_as_chunks(out_root / rel, split.part_chunks(part, info)):
                report.fail("holdout", rel, f"differs from the {part} of {official_rel} that --holdout "
                                            f"{recorded['holdout']} --holdout-seed {recorded['seed']} gives "
                                            "(edited, or from another train json)")
                continue
            cocovid = cocovid_name(version, part)
            with open(out_root / rel, "rb") as sub:
                try:
                    chunks, _ = convert(sub, rel, version, "train")
                    same = same_as_chunks(out_root / cocovid, _with_info(chunks, info))
                except SegprepError as exc:
                    report.fail("holdout", rel, str(exc))
                    continue
            if not same:
                report.fail("holdout", cocovid, f"differs from the conversion of {rel} (edited?)")
    if (out_root / LIST_NAME).read_bytes() != split.listing():
        report.fail("holdout", LIST_NAME, "is not the list of the held-out videos of valid_sub.json")

