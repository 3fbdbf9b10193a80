"""cityscapesScripts' preparation tools as an oracle (tests) and as the baseline (benchmark).

Their instance tool saves mode-I PNGs, which Pillow 13 refuses, so they run with a Pillow below
13 that pip installs once into a folder put first on their PYTHONPATH (cached beside the
virtual environment; everything else, cityscapesscripts included, comes from this environment).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def old_pillow() -> Path:
    """A folder holding Pillow < 13; raises RuntimeError when pip cannot install it."""
    base = Path(sys.prefix) if os.access(sys.prefix, os.W_OK) else Path(os.environ.get("TMPDIR", "/tmp"))
    target = base / "segprep-test-oracles" / "pillow-lt13"
    probe = [sys.executable, "-c", "import PIL, sys; sys.exit(int(PIL.__version__.split('.')[0]) >= 13)"]
    if target.is_dir() and subprocess.run(probe, env=dict(os.environ, PYTHONPATH=str(target))).returncode == 0:
        return target
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade",
                          "--target", str(target), "pillow<13"], capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"cannot install Pillow < 13 for cityscapesScripts' tools: {pip.stderr[-800:]}")
    return target


def official_commands(root: Path, out: Path, sets: tuple[str, ...] = ("train", "val"), train_id: bool = False) -> list[list[str]]:
    """createTrainIdLabelImgs, createTrainIdInstanceImgs (on every split of root/gtFine, writing beside the
    inputs) and createPanopticImgs (``sets`` into ``out``), as command lines."""
    panoptic = [sys.executable, "-m", "cityscapesscripts.preparation.createPanopticImgs", "--dataset-folder",
                str(root / "gtFine"), "--output-folder", str(out), "--set-names", *sets]
    return [
        [sys.executable, "-m", "cityscapesscripts.preparation.createTrainIdLabelImgs"],
        [sys.executable, "-m", "cityscapesscripts.preparation.createTrainIdInstanceImgs"],
        panoptic,
    ] + ([panoptic + ["--use-train-id"]] if train_id else [])


def run_official(root: Path, out: Path, sets: tuple[str, ...] = ("train", "val"), train_id: bool = False) -> None:
    """Runs the tools on the extracted ``root`` (holding gtFine/); panoptic outputs go to ``out``."""
    env = dict(os.environ, CITYSCAPES_DATASET=str(root), PYTHONPATH=str(old_pillow()))
    out.mkdir(parents=True, exist_ok=True)
    for command in official_commands(root, out, sets, train_id):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:4])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
