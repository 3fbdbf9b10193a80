"""Optional accelerators of the codec layer: which are installed, and a switch to turn them off.

Each accelerator gives exactly the output of the path it replaces (the tests compare the arrays,
and the bilinear resize checks itself against Pillow at first use). When one is missing, or when
``SEGPREP_ACCEL=0`` is set, or inside ``disabled()``, the codec functions take today's path:
Pillow, libspng (pyspng) and libpng (imagecodecs). The benchmarks run both paths in one process
through ``disabled()``.

* numba: compiled loops (Pillow's BILINEAR, PNG row unfiltering); compiled once per machine into
  numba's cache beside the package (``cache=True``), loaded in ~0.3 s per process afterwards.
* zlib-ng (``zlib_ng``): inflate and deflate about twice as fast as zlib for label PNGs.
* simplejpeg: libjpeg-turbo's decoder without Pillow's per-chunk copies; the same pixels as Pillow.
"""

from __future__ import annotations

import contextlib
import os
import sys
from functools import lru_cache
from types import ModuleType

def _from_environment() -> bool:
    return os.environ.get("SEGPREP_ACCEL", "1").strip().lower() not in ("0", "no", "off", "false")


_enabled = _from_environment()


def enabled() -> bool:
    return _enabled


def refresh() -> None:
    """Read ``SEGPREP_ACCEL`` again (a worker forked from a server started under another environment)."""
    global _enabled
    _enabled = _from_environment()


@contextlib.contextmanager
def disabled():
    """Today's path (no accelerator) inside the block: for the benchmarks and the fallback tests."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


@lru_cache(maxsize=None)
def _load(name: str) -> ModuleType | None:
    try:
        if name == "kernels":  # the numba-compiled loops (imports numba)
            from segprep.io import kernels as module
        elif name == "zlib_ng":
            from zlib_ng import zlib_ng as module
        elif name == "simplejpeg":
            import simplejpeg as module
        else:
            raise ValueError(name)
    except ImportError:
        return None
    return module


def kernels() -> ModuleType | None:
    """``segprep.io.kernels`` when numba is installed and accelerators are on, else None."""
    return _load("kernels") if _enabled else None


def kernels_loaded() -> bool:
    """Whether numba's kernels are already imported in this process (no start-up cost left to pay)."""
    return _enabled and "segprep.io.kernels" in sys.modules


def zlib_ng() -> ModuleType | None:
    return _load("zlib_ng") if _enabled else None


def simplejpeg() -> ModuleType | None:
    return _load("simplejpeg") if _enabled else None
