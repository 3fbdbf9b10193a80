"""What the worker server (``engine.workerserver``) imports once, for every worker it forks: segprep's
task runner, numpy and Pillow (``io.warmup`` adds numba's warm-up for the recipes that need it).
Nothing here starts a thread.
"""

from __future__ import annotations

import atexit
import os
import sys

import numpy as np  # noqa: F401
import PIL.Image  # noqa: F401

import segprep.engine.worker  # noqa: F401  (the task runner and the source readers)
from segprep.engine.malloc import tune_malloc



def in_fork_server() -> bool:
    """Whether this code runs under ``multiprocessing.forkserver.main`` (the server, or a worker it forked)."""
    frame = sys._getframe()
    suffix = os.path.join("multiprocessing", "forkserver.py")
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_code.co_filename.endswith(suffix):
            return True
        frame = frame.f_back
    return False


tune_malloc()
if in_fork_server():
    # The server holds nothing to flush or close; the interpreter's teardown (with numba's LLVM state)
    # would take ~0.15 s on the critical path of every run; its workers end through os._exit anyway.
    # Anywhere else (a process that imported this module) the exit and its status stay untouched.
    atexit.register(os._exit, 0)
