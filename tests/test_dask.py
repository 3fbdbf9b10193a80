"""The Dask executor: same bytes as the local pool, also when a worker is killed mid-run."""

import os
import signal
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import engine_actions as actions  # noqa: E402
from conftest import tree_bytes  # noqa: E402
from segprep import api  # noqa: E402
from segprep.cli import main  # noqa: E402
from segprep.engine.runner import Plan, RunOptions, run  # noqa: E402
from segprep.engine.tasks import Task  # noqa: E402


def local_cluster(**env):
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                    dashboard_address=None, env=env or None)


@pytest.fixture(scope="module")
def kitti(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    api.sample("kitti-step", root / "raw", options={"frames": 4}, jobs=2)
    local = root / "local"
    assert api.prepare("kitti-step", root / "raw", local, jobs=2, quiet=True).ok
    return root / "raw", tree_bytes(local / "kitti-step")


def test_dask_output_is_byte_identical_to_the_local_pool(kitti, tmp_path):
    raw, expected = kitti
    with local_cluster() as cluster:
        code = main(["prepare", "kitti-step", "--raw", str(raw), "--data", str(tmp_path), "--quiet",
                     "--executor", "dask", "--scheduler", cluster.scheduler_address])
        assert code == 0
        assert tree_bytes(tmp_path / "kitti-step") == expected
        # resume works the same: nothing left to do
        again = api.prepare("kitti-step", raw, tmp_path, quiet=True, scheduler=cluster.scheduler_address)
        assert again.skipped == again.planned and again.written == 0


def test_a_worker_killed_mid_run_loses_nothing(kitti, tmp_path):
    raw, expected = kitti
    with local_cluster(SEGPREP_TASK_DELAY_MS="60") as cluster, distributed.Client(cluster) as client:
        result = {}
        runner = threading.Thread(target=lambda: result.update(summary=api.prepare(
            "kitti-step", raw, tmp_path, quiet=True, scheduler=cluster.scheduler_address)))
        runner.start()
        out = tmp_path / "kitti-step/video_sequence"
        while sum(len(f) for _, _, f in os.walk(out)) < 8 if out.exists() else True:
            time.sleep(0.02)
        victim = sorted(client.run(os.getpid).values())[0]
        os.kill(victim, signal.SIGKILL)
        done_at_kill = sum(len(f) for _, _, f in os.walk(out))
        runner.join(timeout=120)
        assert done_at_kill < len(expected), "the kill must land part-way"
        summary = result["summary"]
        assert summary.ok, [f.error for f in summary.failures]
        assert tree_bytes(tmp_path / "kitti-step") == expected


def test_a_task_that_keeps_killing_workers_is_reported_and_the_rest_completes(tmp_path):
    tasks = [Task(f"t{i}", actions.crash_hard, (), (f"{i}.txt",), {"text": f"x{i}", "crash": i == 3}) for i in range(8)]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), local_cluster() as cluster:
        summary = run(Plan(tasks, "t/1"), "test", tmp_path / "out", tmp_path / "state",
                      RunOptions(quiet=True, scheduler=cluster.scheduler_address))
    assert [f.key for f in summary.failures] == ["t3"]
    assert "worker process died" in summary.failures[0].error
    assert summary.written == 7


def test_an_unreachable_scheduler_is_a_clear_error(kitti, tmp_path, capsys):
    code = main(["prepare", "kitti-step", "--raw", str(kitti[0]), "--data", str(tmp_path), "--quiet",
                 "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "kitti-step").exists()
