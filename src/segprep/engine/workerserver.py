"""The fork server that local worker pools start their workers from.

With "spawn" every worker imported segprep, numpy and Pillow and warmed up numba on its own (~0.9 s
of CPU each, 6 ms a frame in a 216-frame run). A fork server (CPython's ``multiprocessing.forkserver``)
imports and warms up ``engine.preload`` once and forks each worker from that state. Like "spawn", a
worker inherits no lock or thread of the main process (the progress bar has one): the server is a
fresh interpreter. Where there is no fork server (Windows), pools use "spawn".

``serving(jobs)`` starts the server when a run begins (the command line starts it even before it
imports the recipes), so its warm-up overlaps the planning, and stops it when the run ends: no process outlives the command, the next run starts from its own environment,
and the CPU of the server and its workers is accounted to the command once it is reaped.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from multiprocessing import forkserver

_failed = False  # the server could not be started here (e.g. no Unix socket in the temp folder): spawn
PRELOAD = ["segprep.engine.preload"]
WARM_CODECS = ["segprep.io.warmup"]  # added for the recipes with COMPILED_CODECS
_pools_made = 0  # pools that forked from the server since it started
_adoptable = False  # started by the command line for the run that follows: its ``serving`` stops it


def available() -> bool:
    return not _failed and "forkserver" in multiprocessing.get_all_start_methods()


def running() -> bool:
    return getattr(forkserver._forkserver, "_forkserver_pid", None) is not None  # CPython 3.8-3.13


def pool_context():
    """The multiprocessing context of a new local pool (starts the server if it is not running)."""
    global _pools_made
    start()
    if not available():
        return multiprocessing.get_context("spawn")
    _pools_made += 1
    return multiprocessing.get_context("forkserver")


def start(warm_codecs: bool = True, adoptable: bool = False) -> bool:
    """Start the server (its warm-up runs in the background); True when this call started it, False when
    it was running (or cannot run here). ``adoptable``: the next ``serving`` block takes it as its own."""
    global _pools_made, _failed, _adoptable
    if not available() or running():
        return False
    _pools_made = 0
    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD + (WARM_CODECS if warm_codecs else []))
    try:
        forkserver.ensure_running()
    except OSError:  # pools take "spawn": slower to start, the same work
        _failed = True
        return False
    _adoptable = adoptable
    return True


def stop() -> None:
    """Stop the server; one that no pool used is terminated (it may still be warming up), not awaited."""
    global _pools_made, _adoptable
    server = forkserver._forkserver
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    if not _pools_made:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    _pools_made = 0
    _adoptable = False
    with contextlib.suppress(OSError, AttributeError):
        server._stop()  # closes its lifeline and reaps it (a private method of CPython's ForkServer)


@contextlib.contextmanager
def serving(jobs: int, warm_codecs: bool = True):
    """Local pools within the block fork from one server: started now when ``jobs`` > 1 (or taken over
    from the command line, which started it early) and stopped at the end of the block. Within a block
    that already serves (the demo around its prepares), the outer block's server is used and kept."""
    global _adoptable
    owned = False
    if _adoptable and running():
        owned, _adoptable = True, False
    elif jobs > 1:
        owned = start(warm_codecs)
    try:
        yield
    finally:
        if owned:
            stop()
