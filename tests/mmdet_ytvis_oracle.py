"""The YouTube-VIS evaluation code shipped in the mmdet wheel on PyPI, as an oracle, without mmdet.

``mmdet/evaluation/functional/ytvis.py`` (the YTVIS api) and ``ytviseval.py`` (YTVISeval) need only
numpy and pycocotools. The wheel is fetched once with ``pip download --no-deps`` into
``<venv>/segprep-test-oracles/`` (PyPI is reachable in CI); the two files are read out of it and run as
stand-alone modules, so neither mmdet nor its dependencies (torch, mmcv, mmengine) are installed.
Their code is unchanged; it uses ``np.float``, an alias numpy 1.24 removed, so the modules see numpy
through a view that restores that alias (``float``) and forwards everything else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

MMDET_VERSION = "3.3.0"
FILES = ("ytvis", "ytviseval")


def _wheel() -> Path:
    base = Path(sys.prefix) if os.access(sys.prefix, os.W_OK) else Path(os.environ.get("TMPDIR", "/tmp"))
    target = base / "segprep-test-oracles" / f"mmdet-{MMDET_VERSION}"
    found = sorted(target.glob(f"mmdet-{MMDET_VERSION}-*.whl"))
    if found:
        return found[0]
    pip = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                          "--no-deps", "--only-binary", ":all:", "--dest", str(target), f"mmdet=={MMDET_VERSION}"],
                         capture_output=True, text=True)
    found = sorted(target.glob(f"mmdet-{MMDET_VERSION}-*.whl"))
    if pip.returncode != 0 or not found:
        raise RuntimeError(f"cannot download the mmdet {MMDET_VERSION} wheel: {pip.stderr[-800:]}")
    return found[0]


class _NumpyWithOldAliases(types.ModuleType):
    float = float

    def __getattr__(self, name):
        import numpy

        return getattr(numpy, name)


def load() -> tuple[types.ModuleType, types.ModuleType]:
    """(ytvis, ytviseval) modules; raises RuntimeError when the wheel cannot be had."""
    modules = []
    with zipfile.ZipFile(_wheel()) as wheel:
        for name in FILES:
            source = wheel.read(f"mmdet/evaluation/functional/{name}.py").decode()
            module = types.ModuleType(f"mmdet_oracle_{name}")
            module.__file__ = f"{wheel.filename}!mmdet/evaluation/functional/{name}.py"
            exec(compile(source, module.__file__, "exec"), module.__dict__)
            module.np = _NumpyWithOldAliases("numpy")
            modules.append(module)
    return modules[0], modules[1]
