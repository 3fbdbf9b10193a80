"""VSPW end to end: sample (split tar parts) -> prepare (parts, extracted, VSPW_480p) -> verify, faults, report."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import kill_part_way, tree_bytes
from segprep import api
from segprep.cli import main
from segprep.datasets import vspw as recipe
from segprep.datasets._shared.video_frames import parse_split
from segprep.encodings import vipseg as vipseg_enc
from segprep.encodings import vspw as enc
from segprep.engine.progress import Progress
from segprep.errors import BadInput, MissingInput
from segprep.io import archives, filewindows
from segprep.io.images import encode_png_fast
from segprep.datasets.vspw import sample

FRAMES = 3
VIDEOS = sample.videos()
SPLIT_OF = {video: split for split, entries in VIDEOS.items() for video, *_ in entries}
CLIP = sample.DAMAGED_CLIP
DAMAGED_STEM = f"{6183 + sample.DAMAGED_FRAME:08d}"
# (width, height) after change2_480p.py: height 480, width int(480*w/h)
SIZES = {"59_xqQl6lyPu48": (853, 480), "344_q0niFNeOQxM": (270, 480), "616_0tNe40TPqUc": (853, 480),
         "100_9OFxODps2Uo": (854, 480), "127_-hIVCYO4C90": (853, 480), "1643_T9npC-YHzuE": (853, 480),
         CLIP: (853, 480), "582_QOahnV7DJ2s": (853, 480)}
TOP_FILES = {"train.txt", "val.txt", "test.txt", "label_num_dic_final.json"}


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    """The split parts and, extracted beside them, the replacement images of 988_f_Xvy_DCPt8."""
    out = tmp_path_factory.mktemp("vspw") / "raw"
    api.sample("vspw", out, options={"frames": FRAMES}, jobs=2)
    return out


@pytest.fixture(scope="session")
def parts_only(raw, tmp_path_factory) -> Path:
    """The split parts alone: the 0-byte frame reaches prepare."""
    out = tmp_path_factory.mktemp("vspw") / "parts"
    out.mkdir()
    for part in sorted(raw.glob("VSPW_data.tar_*")):
        os.link(part, out / part.name)
    return out


@pytest.fixture(scope="session")
def extracted(raw, tmp_path_factory) -> Path:
    """What `cat VSPW_data.tar_a* > VSPW_data.tar; tar -xf VSPW_data.tar` gives, with the replacement images put in."""
    out = tmp_path_factory.mktemp("vspw") / "extracted"
    with tarfile.open(fileobj=io.BytesIO(joined(raw))) as tf:
        tf.extractall(out)
    for image in (raw / f"VSPW/data/{CLIP}/origin").iterdir():
        shutil.copyfile(image, out / f"VSPW/data/{CLIP}/origin/{image.name}")
    return out


@pytest.fixture(scope="session")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("vspw") / "data"
    summary = api.prepare("vspw", raw, data, jobs=2, quiet=True)
    assert summary.ok, summary.failures
    return data


def joined(raw: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(raw.glob("VSPW_data.tar_*")))


def frames_of(video: str) -> list[str]:
    entry = next(e for entries in VIDEOS.values() for e in entries if e[0] == video)
    return sample.frame_names(entry[2], FRAMES)


def expected_files(left_out: frozenset = frozenset()) -> set[str]:
    names = set(TOP_FILES)
    for video, split in SPLIT_OF.items():
        for stem in frames_of(video):
            if (video, stem) in left_out:
                continue
            names.add(f"data/{video}/origin/{stem}.jpg")
            if split != "test":
                names.add(f"data/{video}/mask/{stem}.png")
    return names


def official_change2_480p(image_path: Path, mask_path: Path | None, height: int = 480):
    """What CVPR2021_VSPW_Implement's change2_480p.py does to one frame (per the dossier): Pillow, the height becomes
    480, width int(480*w/h), BILINEAR image saved with Pillow's defaults, NEAREST mask saved in its own mode."""
    img = Image.open(image_path)
    w, h = img.size
    size = (int(height * w / h), height)
    out = io.BytesIO()
    img.resize(size, Image.BILINEAR).save(out, format="JPEG")
    mask = Image.open(mask_path).resize(size, Image.NEAREST) if mask_path is not None else None
    return out.getvalue(), mask


def tube_link_frames(root: Path, split: str) -> list[tuple[int, int, str, str]]:
    """What lxtGH/Tube-Link datasets/datasets/vspw_dvps.py (VSPWDVPSDataset) does to list its frames."""
    img_root = root / "data"
    assert img_root.exists()
    with open(root / f"{split}.txt") as f:
        folders = [str(img_root) + "/" + line.rstrip("\n") for line in f]  # mmcv.list_from_file with a prefix
    out = []
    for seq_id, folder in enumerate(folders):
        images = sorted(e.name for e in os.scandir(os.path.join(folder, "origin")) if e.name.endswith(".jpg"))
        for img_id, name in enumerate(images):
            image = os.path.join(folder, "origin", name)
            mask = os.path.join(folder, "mask", name).replace(".jpg", ".png")
            assert os.path.exists(image) and os.path.exists(mask)
            out.append((seq_id, img_id, image, mask))
    return out


def tube_link_labels(mask: np.ndarray) -> np.ndarray:
    """Tube-Link's to_coco: 0, 253 and 255 void, 1-124 -> class index; any other value > 124 raises."""
    out = np.full(mask.shape, -1, np.int64)
    for value in np.unique(mask).tolist():
        if value > 124 and value not in (253, 255):
            raise NotImplementedError(value)
        out[mask == value] = 255 if value in (0, 253, 255) else value - 1
    assert (out >= 0).all()
    return out


def dvis_pairs(root: Path, video: str) -> list[tuple[str, np.ndarray]]:
    """DVIS (dataset_mapper_vss.py): sorted origin/ and sorted mask/ paired by position, the mask read as RGB and
    channel 0 taken, then the README's remap (0 -> 255, minus 1, 254 -> 255)."""
    origin = sorted(os.listdir(root / "data" / video / "origin"))
    masks = sorted(os.listdir(root / "data" / video / "mask"))
    out = []
    for image, mask in zip(origin, masks):
        label = np.asarray(Image.open(root / "data" / video / "mask" / mask).convert("RGB"))[..., 0].astype(np.int64)
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
        out.append((image, label))
    return out


# ---------------------------------------------------------------------------- the happy paths


def test_split_parts_give_exactly_the_expected_files_at_the_official_sizes(prepared):
    root = prepared / "vspw"
    assert set(tree_bytes(root)) == expected_files()
    for video, split in SPLIT_OF.items():
        for stem in frames_of(video):
            image = Image.open(root / f"data/{video}/origin/{stem}.jpg")
            assert (image.format, image.size) == ("JPEG", SIZES[video])
            if split != "test":
                mask = Image.open(root / f"data/{video}/mask/{stem}.png")
                assert (mask.size, mask.mode) == (SIZES[video], "L")
    assert api.verify("vspw", prepared, jobs=2, quiet=True).ok


def test_the_archive_parts_are_cut_inside_a_member_and_read_in_place(raw):
    parts = sorted(raw.glob("VSPW_data.tar_*"))
    assert [p.name for p in parts] == ["VSPW_data.tar_aa", "VSPW_data.tar_ab"]
    cut = parts[0].stat().st_size
    archive = archives.find_archive(raw, "VSPW_data.tar")
    members = archives.list_members(archive)
    straddling = [m for m in members if m.offset < cut < m.offset + m.size]
    assert len(straddling) == 1
    whole = joined(raw)
    reader = archives.ArchiveReader()
    try:
        member = straddling[0]
        assert reader.read(archive, member) == whole[member.offset: member.offset + member.size]
    finally:
        reader.close()
    empty = [m.name for m in members if m.size == 0]
    assert empty == [f"VSPW/data/{CLIP}/origin/{DAMAGED_STEM}.jpg"]


def test_listing_and_reading_a_split_tar_read_little_more_than_needed(raw, monkeypatch):
    delivered = [0]
    original = filewindows.Parts.readinto

    def counting(self, buffer):
        n = original(self, buffer)
        delivered[0] += n
        return n

    monkeypatch.setattr(filewindows.Parts, "readinto", counting)
    archive = archives.find_archive(raw, "VSPW_data.tar")
    members = archives.list_members(archive)
    assert delivered[0] < archive.size() / 4  # the headers, not the whole archive
    delivered[0] = 0
    reader = archives.ArchiveReader()
    try:
        for member in members[::3]:
            reader.read(archive, member)
    finally:
        reader.close()
    wanted = sum(m.size for m in members[::3])
    assert delivered[0] < wanted + 8192 * len(members[::3])


def test_prepare_never_writes_a_joined_copy_of_the_parts(raw, tmp_path):
    src, tmp, cwd, data = tmp_path / "raw", tmp_path / "tmp", tmp_path / "cwd", tmp_path / "data"
    shutil.copytree(raw, src)
    tmp.mkdir()
    cwd.mkdir()

    def size(root: Path) -> int:
        total = 0
        for dirpath, _, names in os.walk(root):
            for name in names:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except FileNotFoundError:
                    pass  # renamed away while we looked
        return total

    archive_size = sum(p.stat().st_size for p in src.glob("VSPW_data.tar_*"))
    start = {root: size(root) for root in (src, tmp, cwd)}
    peak = {root: 0 for root in (src, tmp, cwd, data)}
    done = threading.Event()

    def sample_disk():
        while not done.is_set():
            for root in peak:
                peak[root] = max(peak[root], size(root) - start.get(root, 0))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample_disk)
    sampler.start()
    try:
        env = dict(os.environ, TMPDIR=str(tmp), SEGPREP_TASK_DELAY_MS="20")
        result = subprocess.run([sys.executable, "-m", "segprep", "prepare", "vspw", "--raw", str(src), "--data",
                                 str(data), "--jobs", "2", "--quiet"], cwd=cwd, env=env, capture_output=True, text=True)
    finally:
        done.set()
        sampler.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert peak[src] == 0 and peak[tmp] == 0 and peak[cwd] == 0
    final = size(data)
    assert final < archive_size / 2  # the 480p output is far smaller than the download
    assert peak[data] <= final + 512 * 1024  # in flight: a few frame-sized temporaries, never the archive


def test_split_files_and_the_label_table_are_byte_identical_copies(raw, prepared):
    with tarfile.open(fileobj=io.BytesIO(joined(raw))) as tf:
        for name in TOP_FILES:
            assert (prepared / "vspw" / name).read_bytes() == tf.extractfile(f"VSPW/{name}").read()
    assert (prepared / "vspw/train.txt").read_text().split() == [v for v, *_ in VIDEOS["train"]]  # unsorted


def test_pixels_equal_the_official_change2_480p(extracted, prepared):
    root = prepared / "vspw"
    cases = [("59_xqQl6lyPu48", "00001622"), ("344_q0niFNeOQxM", "00004080"), ("1643_T9npC-YHzuE", "00000545"),
             ("127_-hIVCYO4C90", "00001624")]
    for video, stem in cases:
        image, mask = official_change2_480p(extracted / f"VSPW/data/{video}/origin/{stem}.jpg",
                                            extracted / f"VSPW/data/{video}/mask/{stem}.png")
        assert (root / f"data/{video}/origin/{stem}.jpg").read_bytes() == image  # same library, same calls
        ours = Image.open(root / f"data/{video}/mask/{stem}.png")
        assert ours.mode == mask.mode == "L" and np.array_equal(np.asarray(ours), np.asarray(mask))
    image, _ = official_change2_480p(extracted / f"VSPW/data/{CLIP}/origin/{DAMAGED_STEM}.jpg", None)
    assert (root / f"data/{CLIP}/origin/{DAMAGED_STEM}.jpg").read_bytes() == image  # from the replacement


def test_masks_keep_their_raw_values(extracted, prepared):
    root = prepared / "vspw"
    video = "59_xqQl6lyPu48"
    for stem in frames_of(video):
        raw_values = set(np.unique(np.asarray(Image.open(extracted / f"VSPW/data/{video}/mask/{stem}.png"))).tolist())
        values = set(np.unique(np.asarray(Image.open(root / f"data/{video}/mask/{stem}.png"))).tolist())
        assert values <= raw_values and {0, 255, 19, 29, 49, 61} <= values  # others, void, road, sky, car, person


def test_tube_link_and_dvis_readers_find_every_pair(prepared):
    root = prepared / "vspw"
    for split in ("train", "val"):
        frames = tube_link_frames(root, split)
        assert len(frames) == len(VIDEOS[split]) * FRAMES
        assert [seq for seq, *_ in frames] == sorted(seq for seq, *_ in frames)
        for _, _, image, mask in frames:
            labels = tube_link_labels(np.asarray(Image.open(mask)))
            assert labels.shape == np.asarray(Image.open(image)).shape[:2]
        for video, *_ in VIDEOS[split]:
            pairs = dvis_pairs(root, video)
            assert [image for image, _ in pairs] == [f"{s}.jpg" for s in frames_of(video)]
            for _, label in pairs:
                assert set(np.unique(label).tolist()) <= set(range(124)) | {255}


def test_extracted_download_gives_the_same_bytes_and_links_what_needs_no_pixel_work(extracted, prepared, tmp_path):
    before = tree_bytes(extracted)
    summary = api.prepare("vspw", extracted, tmp_path, jobs=2, quiet=True)
    assert summary.ok
    assert tree_bytes(tmp_path / "vspw") == tree_bytes(prepared / "vspw")
    same = os.path.samefile
    video = "100_9OFxODps2Uo"  # already 854x480: image and 8-bit mask linked, not re-encoded
    for rel in (f"data/{video}/origin/00000610.jpg", f"data/{video}/mask/00000610.png"):
        assert same(tmp_path / "vspw" / rel, extracted / "VSPW" / rel)
    assert same(tmp_path / "vspw/train.txt", extracted / "VSPW/train.txt")
    assert tree_bytes(extracted) == before


def test_the_replacement_images_are_used_before_the_damaged_archive_copy(raw, prepared, tmp_path, capsys):
    assert main(["prepare", "vspw", "--raw", str(raw), "--data", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"3 frame(s) found in several places are taken from {raw / 'VSPW'}, e.g. {CLIP}/00006183" in out
    assert not (prepared / "vspw" / recipe.DAMAGED_RECORD).exists()


def test_a_rerun_skips_everything(raw, prepared):
    summary = api.prepare("vspw", raw, prepared, jobs=2, quiet=True)
    assert summary.written == 0 and summary.skipped == summary.planned


def test_height_720_and_jpeg_quality(extracted, tmp_path):
    summary = api.prepare("vspw", extracted, tmp_path, jobs=2, quiet=True, options={"height": 720, "jpeg_quality": 90})
    assert summary.ok
    root = tmp_path / "vspw"
    sizes = {"59_xqQl6lyPu48": (1280, 720), "344_q0niFNeOQxM": (405, 720), "100_9OFxODps2Uo": (1281, 720),
             "616_0tNe40TPqUc": (1280, 720)}
    for video, size in sizes.items():
        stem = frames_of(video)[0]
        assert Image.open(root / f"data/{video}/origin/{stem}.jpg").size == size
        assert Image.open(root / f"data/{video}/mask/{stem}.png").size == size
    linked = "data/616_0tNe40TPqUc/origin/00000032.jpg"  # already 1280x720: never re-encoded
    assert (root / linked).read_bytes() == (extracted / "VSPW" / linked).read_bytes()
    report = api.verify("vspw", tmp_path, quiet=True)
    assert report.ok and any("720 pixels high" in note for note in report.notes)


def test_the_official_480p_download_is_linked_as_it_is(extracted, prepared, tmp_path):
    src = tmp_path / "raw" / "VSPW_480p"
    for name in ("train.txt", "val.txt", "test.txt"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(extracted / "VSPW" / name, src / name)
    for video, split in SPLIT_OF.items():
        for stem in frames_of(video):
            origin = extracted / f"VSPW/data/{video}/origin/{stem}.jpg"
            mask = extracted / f"VSPW/data/{video}/mask/{stem}.png"
            image, small = official_change2_480p(origin, mask if split != "test" else None)
            (src / f"data/{video}/origin").mkdir(parents=True, exist_ok=True)
            (src / f"data/{video}/origin/{stem}.jpg").write_bytes(image)
            if small is not None:
                (src / f"data/{video}/mask").mkdir(parents=True, exist_ok=True)
                small.save(src / f"data/{video}/mask/{stem}.png")
    summary = api.prepare("vspw", tmp_path / "raw", tmp_path / "data", jobs=2, quiet=True)
    assert summary.ok
    out = tmp_path / "data/vspw"
    assert set(tree_bytes(out)) == expected_files() - {"label_num_dic_final.json"}
    for rel in expected_files() - TOP_FILES:
        assert os.path.samefile(out / rel, src / rel)
    assert api.verify("vspw", tmp_path / "data", quiet=True).ok
    with pytest.raises(MissingInput, match="needs the full download"):
        api.prepare("vspw", tmp_path / "raw", tmp_path / "data720", quiet=True, options={"height": 720})


# ---------------------------------------------------------------------------- damaged frames


def test_a_0_byte_frame_is_named_with_the_authors_advice_then_skipped_or_replaced(parts_only, raw, tmp_path, capsys):
    data = tmp_path / "data"
    cmd = ["prepare", "vspw", "--raw", str(parts_only), "--data", str(data), "--quiet"]
    assert main(cmd) == 1
    out = capsys.readouterr().out
    victim = f"VSPW_data.tar_aa (+1 parts):VSPW/data/{CLIP}/origin/{DAMAGED_STEM}.jpg is empty (0 bytes)"
    assert victim in out and "1kuQksbhw_sgB5n6fKzts2G9KZn41-q_N" in out and "--skip-damaged" in out
    left_out = frozenset({(CLIP, DAMAGED_STEM)})
    written = {n for n in tree_bytes(data / "vspw") if ".segprep-tmp" not in n}
    assert written == expected_files(left_out)
    # --skip-damaged redoes only the failed frame, leaves it out and records it
    assert main(cmd + ["--skip-damaged"]) == 0
    out = capsys.readouterr().out
    assert "1 damaged frame(s) left out with --skip-damaged" in out
    record = (data / "vspw" / recipe.DAMAGED_RECORD).read_text()
    assert record == f"data/{CLIP}/origin/{DAMAGED_STEM}.jpg\t{victim}\n"
    assert set(tree_bytes(data / "vspw")) == expected_files(left_out) | {recipe.DAMAGED_RECORD}
    report = api.verify("vspw", data, quiet=True)
    assert report.ok and any("1 frame(s) left out as damaged" in note for note in report.notes)
    # the replacement images extracted into --raw: the frame is written and the record goes
    shutil.copytree(raw / "VSPW", parts_only / "VSPW")
    try:
        summary = api.prepare("vspw", parts_only, data, jobs=2, quiet=True)
    finally:
        shutil.rmtree(parts_only / "VSPW")
    assert summary.ok and summary.written == 3  # the clip's frames now come from the replacement
    assert set(tree_bytes(data / "vspw")) == expected_files()
    assert api.verify("vspw", data, quiet=True).ok


def test_truncated_frames_and_masks_fail_alone_or_are_skipped(extracted, prepared, tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    victims = {("59_xqQl6lyPu48", "00001622"): "origin", ("100_9OFxODps2Uo", "00000611"): "origin",  # resized, linked
               ("127_-hIVCYO4C90", "00001623"): "mask"}
    for (video, stem), kind in victims.items():
        path = src / f"VSPW/data/{video}/{kind}/{stem}.{'jpg' if kind == 'origin' else 'png'}"
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    before = tree_bytes(src)
    cmd = ["prepare", "vspw", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"]
    assert main(cmd) == 1
    out = capsys.readouterr().out
    for (video, stem), kind in victims.items():
        assert f"VSPW/data/{video}/{kind}/{stem}." in out
    assert "is truncated" in out and "download or extract it again" in out
    left_out = frozenset(victims)
    assert {n for n in tree_bytes(tmp_path / "data/vspw") if ".segprep-tmp" not in n} == expected_files(left_out)
    assert main(cmd + ["--skip-damaged"]) == 0
    record = (tmp_path / "data/vspw" / recipe.DAMAGED_RECORD).read_text().splitlines()
    assert [line.split("\t")[0] for line in record] == sorted(f"data/{v}/origin/{s}.jpg" for v, s in victims)
    assert api.verify("vspw", tmp_path / "data", quiet=True).ok
    assert tree_bytes(src) == before


def test_killed_run_resumes_to_byte_identical_output(raw, prepared, tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "segprep", "prepare", "vspw", "--raw", str(raw), "--data", str(data),
           "--jobs", "2", "--quiet"]
    out_dir = data / "vspw"
    kill_part_way(cmd, out_dir, files=10, delay_ms=150)
    partial = {name for name in tree_bytes(out_dir) if ".segprep-tmp" not in name}
    assert 10 <= len(partial) < len(expected_files()), "the kill must land part-way"
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert tree_bytes(out_dir) == tree_bytes(prepared / "vspw")


# ---------------------------------------------------------------------------- other bad input


def test_bad_masks_fail_their_frame_only_253_is_kept_and_palette_masks_are_read(extracted, prepared, tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    masks = src / "VSPW/data/59_xqQl6lyPu48/mask"
    values = np.array(Image.open(masks / "00001621.png"))
    values[5, 5] = 130
    Image.fromarray(values).save(masks / "00001621.png")
    Image.open(masks / "00001622.png").resize((960, 540), Image.NEAREST).save(masks / "00001622.png")
    Image.open(masks / "00001623.png").convert("RGB").save(masks / "00001623.png")
    odd = src / "VSPW/data/616_0tNe40TPqUc/mask/00000032.png"
    values = np.array(Image.open(odd))
    values[:40, :40] = 253
    Image.fromarray(values).save(odd)
    palette = src / "VSPW/data/127_-hIVCYO4C90/mask/00001622.png"
    indices = np.array(Image.open(palette))
    image = Image.fromarray(indices, mode="P")
    image.putpalette([(i * 7) % 256 for i in range(768)])  # a palette that is not the identity
    image.save(palette)
    code = main(["prepare", "vspw", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet", "--jobs", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{masks / '00001621.png'}: values [130] are not VSPW labels" in out
    assert f"{masks / '00001622.png'} is 960x540 but its image" in out
    assert f"{masks / '00001623.png'}: expected an 8-bit one-channel PNG" in out and "8-bit RGB" in out
    root = tmp_path / "data/vspw"
    kept = np.asarray(Image.open(root / "data/616_0tNe40TPqUc/mask/00000032.png"))
    assert (kept == 253).any()
    assert Image.open(root / "data/127_-hIVCYO4C90/mask/00001622.png").mode == "L"
    assert np.array_equal(np.asarray(Image.open(root / "data/127_-hIVCYO4C90/mask/00001622.png")),
                          np.asarray(Image.open(prepared / "vspw/data/127_-hIVCYO4C90/mask/00001622.png")))
    for stem in ("00001621", "00001622", "00001623"):  # failed frames: neither image nor mask
        assert not (root / f"data/59_xqQl6lyPu48/origin/{stem}.jpg").exists()


def test_value_253_is_noted_by_prepare_and_verify(extracted, tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    odd = src / "VSPW/data/616_0tNe40TPqUc/mask/00000033.png"
    values = np.array(Image.open(odd))
    values[:40, :40] = 253
    Image.fromarray(values).save(odd)
    assert main(["prepare", "vspw", "--raw", str(src), "--data", str(tmp_path / "data"), "--quiet"]) == 0
    out = capsys.readouterr().out
    # 40x40 pixels of 253, resized: 27x27
    assert "value 253 (void for Tube-Link; not a label in the VSPW README) kept in 1 mask(s), 729 pixels" in out
    assert main(["verify", "vspw", "--data", str(tmp_path / "data"), "--quiet"]) == 0
    assert "value 253 in 1 mask(s) (729 pixels), e.g. data/616_0tNe40TPqUc/mask/00000033.png" in capsys.readouterr().out


def test_missing_split_files_missing_masks_and_videos_in_two_splits(extracted, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(extracted, src)
    (src / "VSPW/val.txt").unlink()
    with pytest.raises(MissingInput, match=r"val\.txt.*VSPW-dataset/VSPW-dataset-download"):
        api.prepare("vspw", src, tmp_path / "data", quiet=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingInput, match=r"VSPW_data\.tar"):
        api.prepare("vspw", tmp_path / "empty", tmp_path / "data", quiet=True)
    (src / "VSPW/val.txt").write_text("127_-hIVCYO4C90\n1643_T9npC-YHzuE\n59_xqQl6lyPu48\n")
    with pytest.raises(BadInput, match="59_xqQl6lyPu48 is listed in both train.txt and val.txt"):
        api.prepare("vspw", src, tmp_path / "data", quiet=True)
    (src / "VSPW/val.txt").write_text("127_-hIVCYO4C90\n1643_T9npC-YHzuE\n")
    shutil.rmtree(src / "VSPW/data/582_QOahnV7DJ2s")
    (src / "VSPW/data/127_-hIVCYO4C90/mask/00001623.png").unlink()
    summary = api.prepare("vspw", src, tmp_path / "data", jobs=1, quiet=True)
    errors = {f.key: f.error for f in summary.failures}
    assert set(errors) == {"data/582_QOahnV7DJ2s/", "data/127_-hIVCYO4C90/origin/00001623.jpg"}
    assert "listed in test.txt but has no frames" in errors["data/582_QOahnV7DJ2s/"]
    assert "VSPW/data/127_-hIVCYO4C90/mask/00001623.png" in errors["data/127_-hIVCYO4C90/origin/00001623.jpg"]


def test_segprep_list_names_the_downloads_and_flags_the_empty_frames(parts_only, raw, capsys):
    assert main(["list", "--raw", str(parts_only)]) == 0
    out = capsys.readouterr().out
    section = out.split("vspw:")[1]
    assert "[ found ] VSPW_data.tar: VSPW_data.tar_aa (+1 parts)" in section
    assert f"[ wrong ] VSPW_data.tar_aa (+1 parts):VSPW/data/{CLIP}/origin/{DAMAGED_STEM}.jpg: 1 frame(s)" in section
    assert "1kuQksbhw_sgB5n6fKzts2G9KZn41-q_N" in section
    assert recipe.VSPW().inspect_raw(raw) == []  # the replacement images are there


# ---------------------------------------------------------------------------- verify finds problems


def test_verify_reports_each_kind_of_damage_by_file(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared / "vspw", data / "vspw")
    root = data / "vspw"

    def rewrite(rel: str, content: bytes) -> None:
        (root / rel).unlink()  # it may be a hard link into the download
        (root / rel).write_bytes(content)

    (root / "data/59_xqQl6lyPu48/mask/00001621.png").unlink()  # an image without its mask
    (root / "data/59_xqQl6lyPu48/origin/notes.txt").write_text("stray")
    mask = np.array(Image.open(root / "data/616_0tNe40TPqUc/mask/00000032.png"))
    rewrite("data/616_0tNe40TPqUc/mask/00000033.png", encode_png_fast(mask[:-1]))
    rewrite("data/616_0tNe40TPqUc/mask/00000034.png", encode_png_fast(mask.astype(np.uint16)))
    mask[0, 0] = 200
    rewrite("data/616_0tNe40TPqUc/mask/00000032.png", encode_png_fast(mask))
    jpg = root / "data/127_-hIVCYO4C90/origin/00001622.jpg"
    rewrite("data/127_-hIVCYO4C90/origin/00001622.jpg", jpg.read_bytes()[:3000])
    for kind, suffix in (("origin", "jpg"), ("mask", "png")):  # a gap in the middle of a clip
        (root / f"data/1643_T9npC-YHzuE/{kind}/00000544.{suffix}").unlink()
    small = Image.open(root / "data/582_QOahnV7DJ2s/origin/00000580.jpg").resize((640, 360))
    small.save(root / "data/582_QOahnV7DJ2s/origin/00000580.jpg.new", format="JPEG")
    os.replace(root / "data/582_QOahnV7DJ2s/origin/00000580.jpg.new", root / "data/582_QOahnV7DJ2s/origin/00000580.jpg")
    (root / "data/7_notlisted/origin").mkdir(parents=True)
    with open(root / "val.txt", "a") as f:
        f.write("5_notdownloaded\n")
    report = api.verify("vspw", data, jobs=2, quiet=True)
    failed = {(f.check, f.path) for f in report.findings}
    assert failed == {
        ("pairs", "data/59_xqQl6lyPu48/mask/00001621.png"),
        ("layout", "data/59_xqQl6lyPu48/origin/notes.txt"),
        ("values", "data/616_0tNe40TPqUc/mask/00000032.png"),
        ("same size", "data/616_0tNe40TPqUc/mask/00000033.png"),
        ("masks", "data/616_0tNe40TPqUc/mask/00000034.png"),
        ("images", "data/127_-hIVCYO4C90/origin/00001622.jpg"),
        ("contiguous frames", "data/1643_T9npC-YHzuE/origin"),
        ("frame height", "data/582_QOahnV7DJ2s/origin"),
        ("layout", "data/7_notlisted"),
        ("videos", "data/5_notdownloaded"),
    }
    assert main(["verify", "vspw", "--data", str(data), "--quiet"]) == 1


def test_verify_official_compares_with_the_published_counts(prepared, capsys):
    assert main(["verify", "vspw", "--data", str(prepared), "--official", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "videos: 8 found, 3,536 published" in out and "frames: 24 found, 251,633 published" in out
    assert "the 8 listed videos are not the 3,536 of vspw_videolist.txt" in out
    assert "videos / frames per split: train 4 / 12, val 2 / 6, test 2 / 6" in out


# ---------------------------------------------------------------------------- report, encodings and real files


def test_report_section_counts_classes_and_draws_frames(prepared):
    section = recipe.VSPW().report_section(prepared / "vspw", 2, Progress(True))
    counts = {(row.split, row.what): (row.found, row.published) for row in section.counts}
    assert counts[("all", "videos")] == (8, 3536) and counts[("all", "frames")] == (24, 251633)
    assert counts[("train", "frames")] == (12, None) and counts[("train + val", "masks")] == (18, None)
    names = [c.name for c in section.categories]
    pixels = dict(zip(names, section.stats.pixels))
    assert len(names) == 124 and pixels["road"] > 0 and pixels["sky"] > 0 and pixels["wall"] == 0
    assert not any(section.stats.instances)
    assert len(section.frames) == 4 and len(section.strips) == 1 and len(section.strips[0]) == FRAMES
    view = section.frames[0]
    assert view.image.shape[:2] == view.segments.shape and view.void.any()
    assert all(0 <= index < 124 for index in view.category_of.values())


def test_the_label_table_is_vipseg_s_and_the_sample_clips_are_real(shared_data):
    table = json.loads((shared_data / "vipseg/label_num_dic_final.json").read_bytes())
    assert enc.label_num_dic() == table and [name for name, _ in enc.categories()] == [
        c["name"] for c in vipseg_enc.categories_json()]
    lines = (shared_data / "vspw/vspw_videolist.txt").read_text().splitlines()
    ranges = {line.split()[0]: (int(line.split()[1]), int(line.split()[2])) for line in lines}
    ids = sorted(ranges)
    assert len(ids) == recipe.PUBLISHED_VIDEOS
    assert hashlib.sha256("".join(f"{v}\n" for v in ids).encode()).hexdigest() == recipe.VIDEO_IDS_SHA256
    vipseg_ids = sorted(v for s in ("train", "val", "test")
                        for v in parse_split((shared_data / f"vipseg/{s}.txt").read_bytes(), s))
    assert vipseg_ids == ids
    assert sum(end - start + 1 for start, end in ranges.values()) == 251_735  # 102 more than published
    for split, entries in sample.VIDEOS.items():
        for video, _, first in entries:
            assert ranges[video][0] <= first and first + FRAMES - 1 <= ranges[video][1]
            assert video in parse_split((shared_data / f"vipseg/{split}.txt").read_bytes(), split)


def test_decode_mask_reads_gray_and_palette_and_refuses_the_rest():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    gray = encode_png_fast(values)
    assert enc.decode_mask(gray, "g")[1] is True and np.array_equal(enc.decode_mask(gray, "g")[0], values)
    out = io.BytesIO()
    palette = Image.fromarray(values, mode="P")
    palette.putpalette(list(range(255, -1, -1)) * 3)
    palette.save(out, format="PNG")
    decoded, is_gray = enc.decode_mask(out.getvalue(), "p")
    assert not is_gray and np.array_equal(decoded, values)
    with pytest.raises(BadInput, match="16-bit gray"):
        enc.decode_mask(encode_png_fast(values.astype(np.uint16)), "w")
    with pytest.raises(BadInput, match="is empty"):
        enc.decode_mask(b"", "e")
    assert enc.invalid_values(enc.histogram(np.array([[0, 124, 125, 253, 254, 255]], np.uint8))) == [125, 254]
    assert enc.check_values(np.array([[0, 1, 124, 255]], np.uint8)) == ([], 0)
    assert enc.check_values(np.array([[0, 253, 253, 255]], np.uint8)) == ([], 2)
    assert enc.check_values(np.array([[125, 253, 254, 255]], np.uint8)) == ([125, 254], 1)
