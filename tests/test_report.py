"""The HTML report: built from the demo data, checked in a real headless Chromium."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from segprep import api
from segprep.report.model import Category, LabelView, evenly_spaced
from segprep.report.render import instance_color, overlay

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--allow-file-access-from-files"]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    assert api.demo(root, jobs=2, quiet=True)
    index = api.report_html(root / "data", root / "report", jobs=2, quiet=True)
    return root, index


def test_the_report_lists_every_prepared_dataset_with_counts_charts_frames_and_findings(demo_report):
    root, index = demo_report
    page = index.read_text()
    from segprep import datasets

    for name in datasets.registry():
        assert f'id="{name}"' in page, name
    assert page.count("<svg") >= 2 and "Counts" in page and "Verify" in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images and all((index.parent / src).is_file() for src in images)
    # thumbnails, not full frames
    assert max((index.parent / src).stat().st_size for src in images) < 200_000
    # a second build gives the same bytes (deterministic sampling and drawing)
    again = api.report_html(root / "data", root / "report2", jobs=2, quiet=True)
    assert again.read_bytes() == index.read_bytes()
    for src in images:
        assert (again.parent / src).read_bytes() == (index.parent / src).read_bytes()


def test_findings_link_to_the_files_they_name(demo_report, tmp_path):
    root, _ = demo_report
    data = tmp_path / "data"
    shutil.copytree(root / "data" / "kitti-step", data / "kitti-step")
    victim = data / "kitti-step/video_sequence/val/000002_000001_leftImg8bit.png"
    victim.write_bytes(victim.read_bytes()[:500])
    index = api.report_html(data, tmp_path / "report", names=["kitti-step"], jobs=1, quiet=True)
    page = index.read_text()
    link = re.search(r'<a href="([^"]+)">video_sequence/val/000002_000001_leftImg8bit.png</a>', page)
    assert link and (index.parent / link.group(1)).resolve() == victim.resolve()


def test_the_report_loads_in_headless_chromium_without_errors(demo_report, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium)")
    _, index = demo_report
    profile = tmp_path / "profile"
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                          "--enable-logging=stderr", "--v=0", "--dump-dom", index.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    loaded = re.search(r'data-images-ok="(\d+)/(\d+)"', dom.stdout)
    assert loaded, "the page's self-check did not run"
    assert loaded.group(1) == loaded.group(2) and int(loaded.group(2)) > 0, loaded.group(0)
    assert 'data-errors="0"' in dom.stdout
    console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and ("rror" in line or "Uncaught" in line)]
    assert not console_errors, console_errors
    shot = Path(os.environ.get("SEGPREP_SCREENSHOT_DIR", tmp_path)) / "report.png"
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1400,2200",
                    f"--screenshot={shot}", index.as_uri()], capture_output=True, timeout=180, check=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot of the report: {shot}")


def test_overlay_colours_instances_by_id_outlines_them_and_hatches_void():
    segments = np.zeros((40, 80), np.int64)
    segments[:, 40:] = 7  # an instance
    void = np.zeros((40, 80), bool)
    void[:10, :20] = True
    view = LabelView("t", np.full((40, 80, 3), 128, np.uint8), segments, {0: 0, 7: 1}, void)
    categories = [Category("road", (128, 64, 128), False), Category("car", (0, 0, 142), True)]
    from io import BytesIO

    from PIL import Image

    picture = np.asarray(Image.open(BytesIO(overlay(view, categories, width=80))), dtype=int)
    expected = 0.45 * 128 + 0.55 * np.array(instance_color(7))
    assert np.abs(picture[30, 70] - expected).max() < 12  # instance colour (JPEG tolerance)
    assert picture[30, 40].min() > 200  # white outline at the instance border
    hatched = picture[:10, :20].reshape(-1, 3).min(axis=1)
    assert (hatched < 80).any() and (hatched > 120).any()  # dark hatch lines over void
    assert instance_color(7) == instance_color(7) and instance_color(7) != instance_color(8)


def test_evenly_spaced_is_deterministic_and_spread():
    assert evenly_spaced(list(range(100)), 4) == [12, 37, 62, 87]
    assert evenly_spaced([1, 2], 5) == [1, 2]


def test_report_reuses_the_last_verify_unless_a_prepare_ran_since(tmp_path):
    api.sample("kitti-step", tmp_path / "raw", options={"frames": 2}, jobs=1)
    data = tmp_path / "data"
    assert api.prepare("kitti-step", tmp_path / "raw", data, jobs=1, quiet=True).ok
    assert api.verify("kitti-step", data, jobs=1, quiet=True).ok  # saved in data/.segprep/kitti-step/
    victim = data / "kitti-step/video_sequence/test/000000_000001_leftImg8bit.png"
    good = victim.read_bytes()
    victim.write_bytes(good[:300])
    page = api.report_html(data, tmp_path / "r1", jobs=1, quiet=True).read_text()
    assert "all checks passed" in page  # the saved result: no new verify
    page = api.report_html(data, tmp_path / "r2", jobs=1, quiet=True, reverify=True).read_text()
    assert "000000_000001_leftImg8bit.png" in page and "problems" in page
    victim.write_bytes(good)
    page = api.report_html(data, tmp_path / "r3", jobs=1, quiet=True).read_text()
    assert "problems" in page  # still the saved result of the last verify
    journal = data / ".segprep/kitti-step/journal.jsonl"
    later = (data / ".segprep/kitti-step/verify.json").stat().st_mtime_ns + 10**9
    os.utime(journal, ns=(later, later))  # a prepare ran after the last verify: its result is stale
    page = api.report_html(data, tmp_path / "r4", jobs=1, quiet=True).read_text()
    assert "all checks passed" in page
