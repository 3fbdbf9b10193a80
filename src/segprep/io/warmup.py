"""numba's warm-up, done once by the worker server for the recipes that use the compiled codecs: numba's
first call (~0.25 s of type registries), the kernels' cache loads and the resize self-check against
Pillow. Imported by ``engine.workerserver`` after ``engine.preload``; does nothing without numba or
with ``SEGPREP_ACCEL=0``.
"""

from __future__ import annotations

import numpy as np

from segprep.io import accel


def warm_up() -> None:
    """Never raises: a server that died here would break every pool of the run, while a worker that
    meets the same problem in a task reports it for that task (or takes the fallback path)."""
    try:
        if accel.kernels() is None:
            return
        from segprep.io.images import decode_png_fast, encode_png_fast
        from segprep.io.resample import compiled_available

        compiled_available()  # numba's first call, the kernels' cache loads and the self-check
        for array in (np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.uint16), np.zeros((2, 3, 3), np.uint8)):
            decode_png_fast(encode_png_fast(array), "warm-up")  # the PNG row unfiltering, per array type
    except Exception:  # noqa: BLE001  (see the docstring)
        pass


warm_up()
