"""What the worker server (``engine.workerserver``) imports once, for every worker it forks: segprep's
task runner, numpy and Pillow (``io.warmup`` adds numba's warm-up for the recipes that need it).
Nothing here starts a thread.
"""

from __future__ import annotations

import atexit
import os

import numpy as np  # noqa: F401
import PIL.Image  # noqa: F401

import segprep.engine.worker  # noqa: F401  (the task runner and the source readers)
from segprep.engine.malloc import tune_malloc

tune_malloc()
# The server holds nothing to flush or close; the interpreter's teardown (with numba's LLVM state) would
# take ~0.15 s on the critical path of every run. Its workers end through os._exit anyway.
atexit.register(os._exit, 0)
