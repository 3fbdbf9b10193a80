"""Local workers fork from one warmed-up server (engine/workerserver.py) that lives as long as its run."""

from __future__ import annotations

import os

import pytest

from engine_actions import worker_state
from segprep.engine import workerserver
from segprep.engine.executors import ProcessExecutor
from segprep.io import accel

pytestmark = pytest.mark.skipif(not workerserver.available(), reason="no fork server on this platform")


def _server_pid() -> int | None:
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not our child any more: reaped
    return False


def _states(executor: ProcessExecutor, variable: str, n: int = 4) -> list[tuple]:
    return [executor.submit(worker_state, variable).result() for _ in range(n)]


def test_a_pool_starts_its_server_and_stops_it_reaped(monkeypatch):
    monkeypatch.setenv("SEGPREP_TEST_VALUE", "first")
    executor = ProcessExecutor(2)
    pid = _server_pid()
    states = _states(executor, "SEGPREP_TEST_VALUE")
    executor.shutdown()
    assert pid is not None and not workerserver.running() and _reaped(pid)
    assert {s[0] for s in states} == {"first"}
    assert all(s[5] for s in states)  # forked by the server (which alone skips the interpreter's teardown)
    if accel.kernels() is not None:  # forked warm: numba imported and the self-check done by the server
        assert all(s[2] and s[3] is True for s in states)


def test_workers_take_the_environment_of_their_run_not_of_the_servers_start(monkeypatch):
    monkeypatch.setenv("SEGPREP_TEST_VALUE", "at server start")
    monkeypatch.delenv("SEGPREP_ACCEL", raising=False)
    with workerserver.serving(2):
        pid = _server_pid()
        monkeypatch.setenv("SEGPREP_TEST_VALUE", "this run")
        monkeypatch.setenv("SEGPREP_ACCEL", "0")
        executor = ProcessExecutor(2)
        states = _states(executor, "SEGPREP_TEST_VALUE")
        executor.shutdown()
        assert workerserver.running()  # the run's server, not the pool's: it outlives the pool
    assert not workerserver.running() and _reaped(pid)
    assert {s[0] for s in states} == {"this run"} and not any(s[1] for s in states)
    assert os.getpid() not in {s[4] for s in states}


def test_an_unused_server_is_terminated_and_reaped():
    with workerserver.serving(2):
        pid = _server_pid()
        assert pid is not None
    assert not workerserver.running() and _reaped(pid)


def test_one_job_starts_no_server():
    with workerserver.serving(1):
        assert not workerserver.running()


def test_a_recipe_without_compiled_codecs_gets_workers_without_numba():
    with workerserver.serving(2, warm_codecs=False):
        executor = ProcessExecutor(2)
        states = _states(executor, "SEGPREP_TEST_VALUE")
        executor.shutdown()
    assert not any(s[2] for s in states)  # numba not imported: nothing to pay for it


def test_the_command_line_asks_one_recipe_whether_it_uses_compiled_codecs():
    from segprep import datasets

    assert datasets.compiled_codecs("vipseg") and datasets.compiled_codecs("all")
    assert not datasets.compiled_codecs("kitti-step") and not datasets.compiled_codecs("no-such-dataset")
    assert {name for name, recipe in datasets.registry().items() if recipe.COMPILED_CODECS} == {
        name for name in datasets.registry() if datasets.compiled_codecs(name)}


def test_a_failing_warm_up_does_not_take_the_server_down(monkeypatch):
    from segprep.io import resample, warmup

    if accel.kernels() is None:
        pytest.skip("no numba: the warm-up does nothing")

    def broken() -> bool:
        raise RuntimeError("numba cannot compile here")

    monkeypatch.setattr(resample, "compiled_available", broken)
    warmup.warm_up()  # the server imports io.warmup: an exception there would end it before any fork


def test_where_the_server_cannot_start_pools_spawn_their_workers(monkeypatch):
    from multiprocessing import forkserver

    def no_socket():
        raise OSError("no Unix socket in the temp folder")

    monkeypatch.setattr(forkserver, "ensure_running", no_socket)
    monkeypatch.setattr(workerserver, "_failed", False)
    monkeypatch.setenv("SEGPREP_TEST_VALUE", "spawned")
    executor = ProcessExecutor(2)
    states = _states(executor, "SEGPREP_TEST_VALUE", 2)
    executor.shutdown()
    assert {s[0] for s in states} == {"spawned"} and not workerserver.available()


def test_a_block_inside_a_serving_block_keeps_the_outer_server():
    with workerserver.serving(2):
        pid = _server_pid()
        with workerserver.serving(2, warm_codecs=False):  # e.g. a prepare inside the demo
            assert _server_pid() == pid
        assert workerserver.running() and _server_pid() == pid
    assert not workerserver.running() and _reaped(pid)


def test_the_run_takes_over_the_server_the_command_line_started_early():
    assert workerserver.start(warm_codecs=False, adoptable=True)
    pid = _server_pid()
    with workerserver.serving(1):  # e.g. the dry run or the single task that made the pool unnecessary
        assert _server_pid() == pid
    assert not workerserver.running() and _reaped(pid)

def test_importing_the_preload_elsewhere_leaves_the_exit_status_alone():
    import subprocess
    import sys

    code = "import segprep.engine.preload as p, sys; assert not p.in_fork_server(); sys.exit(3)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 3
