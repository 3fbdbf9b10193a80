"""What the worker server (``engine.workerserver``) imports and warms up once, for every worker it forks:
segprep's task runner, numpy, Pillow, numba's first call (~0.25 s of type registries), the compiled
kernels' cache loads and the resize self-check against Pillow. Nothing here starts a thread.
"""

from __future__ import annotations

import atexit
import os

import numpy as np

import segprep.engine.worker  # noqa: F401  (the task runner and the source readers)
from segprep.engine.malloc import tune_malloc
from segprep.io import accel


def warm_up() -> None:
    tune_malloc()
    if accel.kernels() is None:
        return
    from segprep.io.images import decode_png_fast, encode_png_fast
    from segprep.io.resample import compiled_available

    compiled_available()  # numba's first call, the kernels' cache loads and the self-check
    for array in (np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.uint16), np.zeros((2, 3, 3), np.uint8)):
        decode_png_fast(encode_png_fast(array), "warm-up")  # the PNG row unfiltering, per array type


warm_up()
# The server holds nothing to flush or close; the interpreter's teardown of numba's LLVM state would
# take ~0.15 s on the critical path of every run. Its workers end through os._exit anyway.
atexit.register(os._exit, 0)
