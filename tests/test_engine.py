"""The engine's promises: atomic writes, journal and resume, error collection, streams, --move, space."""

import os
import shutil

import pytest

import engine_actions as actions
from segprep.engine import atomic
from segprep.engine.journal import Journal, JournalEntry, outputs_intact
from segprep.engine.runner import FinalizeContext, Plan, RunOptions, run
from segprep.engine.tasks import Task
from segprep.errors import NotEnoughSpace
from segprep.io.archives import find_archive, list_members
from segprep.io.sources import FileSource, MemberSource
from segprep.samples.archives import write_tar


def text_tasks(n, action=actions.copy_upper, **params_by_index):
    tasks = []
    for i in range(n):
        params = {"text": f"item {i}"}
        params.update(params_by_index.get(str(i), {}))
        tasks.append(Task(f"t{i:03d}", action, (), (f"out/{i:03d}.txt",), params, group="g"))
    return tasks


def go(tmp_path, tasks, jobs=2, **kw):
    finalize = kw.pop("finalize", None)
    plan = Plan(tasks, "test/1", finalize=finalize)
    return run(plan, "test", tmp_path / "out_root", tmp_path / "state", RunOptions(jobs=jobs, quiet=True, **kw))


# ---------------------------------------------------------------------------- atomic writes


def test_write_bytes_replaces_atomically_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a" / "b.bin"
    atomic.write_bytes(target, b"one")
    atomic.write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["b.bin"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "b.bin"
    atomic.write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["b.bin"]


def test_link_shares_the_inode_and_stale_temporaries_are_removed(tmp_path):
    source = tmp_path / "src.png"
    source.write_bytes(b"x" * 10)
    target = tmp_path / "out" / "dst.png"
    mtime_ns, inode = atomic.link(str(source), target)
    assert inode == os.stat(source).st_ino and target.read_bytes() == source.read_bytes()
    stale = target.parent / f".dst.png{atomic.TMP_MARK}999"
    stale.write_bytes(b"half")
    assert atomic.remove_stale_temporaries({target.parent}) == 1
    assert sorted(os.listdir(target.parent)) == ["dst.png"]


# ---------------------------------------------------------------------------- journal


def test_journal_ignores_a_torn_line_and_compacts_sorted(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.record(JournalEntry("b", "fp", [], 1))
    journal.record(JournalEntry("a", "fp", [], 2))
    journal.close()
    with open(tmp_path / "j.jsonl", "a") as f:
        f.write('{"key": "c", "fp"')  # killed mid-write
    reloaded = Journal(tmp_path / "j.jsonl")
    assert set(reloaded.entries) == {"a", "b"}
    reloaded.compact()
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    assert [line.split('"key": ')[1][:3] for line in lines] == ['"a"', '"b"']


def test_outputs_intact_detects_truncation_and_accepts_an_identical_copy(tmp_path):
    out = tmp_path / "root"
    mtime, inode = atomic.write_bytes(out / "f.bin", b"abcdef")
    record = atomic.OutputRecord("f.bin", 6, atomic.digest(b"abcdef"), mtime, inode)
    entry = JournalEntry("k", "fp", [record], None)
    assert outputs_intact(entry, out)
    # Same bytes under a new inode (the tree was copied): the hash is checked and accepted.
    copy = out / "f2.bin"
    shutil.copyfile(out / "f.bin", copy)
    os.replace(copy, out / "f.bin")
    assert outputs_intact(entry, out)
    (out / "f.bin").write_bytes(b"abc")
    assert not outputs_intact(entry, out)


# ---------------------------------------------------------------------------- runner


@pytest.mark.parametrize("jobs", [1, 2])
def test_runs_every_task_and_a_failure_never_hides_the_others(tmp_path, jobs):
    tasks = text_tasks(20, actions.fail_on_bad, **{"7": {"bad": True}})
    summary = go(tmp_path, tasks, jobs=jobs)
    assert summary.written == 19 and len(summary.failures) == 1
    assert summary.failures[0].key == "t007" and "bad on purpose" in summary.failures[0].error
    assert not summary.ok
    assert (tmp_path / "out_root/out/006.txt").read_bytes() == b"ITEM 6"
    assert not (tmp_path / "out_root/out/007.txt").exists()
    log = (tmp_path / "state/failures.log").read_text()
    assert "t007" in log


def test_unexpected_exception_is_reported_with_its_input_and_location(tmp_path):
    summary = go(tmp_path, [Task("k", actions.divide_by_zero, (), ("x",))], jobs=1)
    assert "ZeroDivisionError" in summary.failures[0].error and "engine_actions.py" in summary.failures[0].error


def test_an_action_that_skips_an_output_fails(tmp_path):
    summary = go(tmp_path, [Task("k", actions.write_nothing, (), ("x",))], jobs=1)
    assert "did not write" in summary.failures[0].error


def test_an_omitted_output_is_a_success_and_the_policy_is_not_fingerprinted(tmp_path):
    tasks = text_tasks(4, actions.skip_or_fail, **{"2": {"bad": True}})
    (tmp_path / "out_root/out").mkdir(parents=True)
    (tmp_path / "out_root/out/002.txt").write_text("from an earlier run")
    first = go(tmp_path, tasks)
    assert [f.key for f in first.failures] == ["t002"] and first.written == 3
    lenient = [Task(t.key, t.action, t.inputs, t.outputs, t.params, t.group, policy={"skip": True}) for t in tasks]
    seen = {}
    second = go(tmp_path, lenient, finalize=lambda ctx: seen.update(ctx.extras))
    assert second.ok and (second.written, second.skipped) == (1, 3)  # only the failed task is redone
    assert seen["t002"] == {"skipped": True} and not (tmp_path / "out_root/out/002.txt").exists()
    assert go(tmp_path, tasks).skipped == 4  # the journal keeps the decision; the recipe reports it


def test_a_worker_that_dies_is_retried_then_reported_and_the_rest_completes(tmp_path):
    tasks = text_tasks(12, actions.crash_hard, **{"5": {"crash": True}})
    summary = go(tmp_path, tasks, jobs=2)
    assert [f.key for f in summary.failures] == ["t005"]
    assert "worker process died" in summary.failures[0].error
    assert summary.written == 11


def test_rerun_skips_finished_tasks_and_redoes_changed_or_damaged_ones(tmp_path):
    tasks = text_tasks(6)
    assert go(tmp_path, tasks).written == 6
    again = go(tmp_path, tasks)
    assert (again.written, again.skipped) == (0, 6)
    (tmp_path / "out_root/out/002.txt").write_bytes(b"ITEM")  # damaged output
    changed = text_tasks(6, **{"4": {"text": "changed"}})  # changed input
    third = go(tmp_path, changed)
    assert (third.written, third.skipped) == (2, 4)
    assert (tmp_path / "out_root/out/002.txt").read_bytes() == b"ITEM 2"
    assert (tmp_path / "out_root/out/004.txt").read_bytes() == b"CHANGED"


def test_finalize_sees_every_value_also_from_the_journal_and_withholds_what_needs_a_failed_task(tmp_path):
    seen = {}

    def finalize(ctx: FinalizeContext):
        seen.update(ctx.extras)
        ctx.write_bytes("independent.txt", b"needs no task")
        if ctx.complete(["total.txt"], [t.key for t in ctx.tasks]):
            ctx.write_bytes("total.txt", str(sum(v["n"] for v in ctx.extras.values())).encode())

    tasks = text_tasks(4)
    go(tmp_path, tasks, finalize=finalize)
    seen.clear()
    summary = go(tmp_path, tasks, finalize=finalize)
    assert summary.skipped == 4 and len(seen) == 4
    assert (tmp_path / "out_root/total.txt").read_text() == str(4 * len("item 0"))
    failing = text_tasks(4, actions.fail_on_bad, **{"1": {"bad": True}})
    (tmp_path / "out_root/total.txt").unlink()
    summary = go(tmp_path / "other", failing, finalize=finalize)
    assert not (tmp_path / "other/out_root/total.txt").exists()
    assert (tmp_path / "other/out_root/independent.txt").read_bytes() == b"needs no task"
    assert any("total.txt not written" in note and "1 failed task" in note for note in summary.notes), summary.notes


def test_fail_fast_stops_feeding_work(tmp_path):
    tasks = text_tasks(200, actions.fail_on_bad, **{"0": {"bad": True}})
    summary = go(tmp_path, tasks, jobs=1, fail_fast=True)
    assert len(summary.failures) == 1 and summary.not_run > 0


def test_members_of_a_compressed_tar_are_streamed_in_one_pass(tmp_path):
    write_tar(tmp_path / "raw/a.tar.gz", [(f"d/{i}.txt", f"member {i}".encode()) for i in range(30)])
    archive = find_archive(tmp_path / "raw", "a.tar.gz")
    assert archive.sequential
    tasks = [Task(f"m{m.name}", actions.copy_upper, (MemberSource(archive, m),), (f"o/{m.name}",))
             for m in list_members(archive)]
    summary = go(tmp_path, tasks)
    assert summary.written == 30 and not summary.failures
    assert (tmp_path / "out_root/o/d/7.txt").read_bytes() == b"MEMBER 7"


def test_a_damaged_stream_fails_its_remaining_tasks_with_the_archive_named(tmp_path):
    write_tar(tmp_path / "raw/a.tar.gz", [(f"d/{i}.txt", os.urandom(20000)) for i in range(30)])
    archive = find_archive(tmp_path / "raw", "a.tar.gz")
    members = list_members(archive)
    data = (tmp_path / "raw/a.tar.gz").read_bytes()
    (tmp_path / "raw/a.tar.gz").write_bytes(data[: len(data) // 2])
    archive = find_archive(tmp_path / "raw", "a.tar.gz")
    tasks = [Task(m.name, actions.copy_upper, (MemberSource(archive, m),), (f"o/{m.name}",)) for m in members]
    summary = go(tmp_path, tasks)
    assert summary.failures and summary.written + len(summary.failures) == 30
    assert all("a.tar.gz" in f.error for f in summary.failures)


def test_move_consumes_sources_only_after_everything_is_written(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    sources = []
    for i in range(3):
        (raw / f"{i}.txt").write_bytes(b"x%d" % i)
        sources.append(FileSource.of(raw / f"{i}.txt"))
    bad = [Task(f"k{i}", actions.fail_on_bad, (s,), (f"{i}.txt",), {"bad": i == 2}) for i, s in enumerate(sources)]
    go(tmp_path, bad, placement="move")
    assert sorted(os.listdir(raw)) == ["0.txt", "1.txt", "2.txt"]  # a failure: nothing consumed
    converted = [Task(f"k{i}", actions.copy_upper, (s,), (f"{i}.txt",)) for i, s in enumerate(sources)]
    summary = go(tmp_path, converted, placement="move")  # the outputs are other data: nothing was moved
    assert summary.ok and summary.consumed == 0 and len(os.listdir(raw)) == 3
    assert (tmp_path / "out_root/1.txt").read_bytes() == b"X1"
    placed = [Task(f"p{i}", actions.place_unchanged, (s,), (f"same/{i}.txt",)) for i, s in enumerate(sources)]
    summary = go(tmp_path, placed, placement="move")
    assert summary.ok and summary.consumed == 3 and os.listdir(raw) == []
    assert (tmp_path / "out_root/same/1.txt").read_bytes() == b"x1"


def test_not_enough_space_is_refused_before_writing(tmp_path, monkeypatch):
    from segprep.engine import runner

    monkeypatch.setattr(runner.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 10))
    with pytest.raises(NotEnoughSpace, match="free"):
        go(tmp_path, text_tasks(2))
    assert not (tmp_path / "out_root").exists()


def test_dry_run_writes_nothing_and_describes_the_plan(tmp_path):
    summary = go(tmp_path, text_tasks(3), dry_run=True)
    assert "3 tasks" in summary.plan_text and "disk" in summary.plan_text
    assert not (tmp_path / "out_root").exists()


def test_a_plan_that_writes_one_output_twice_is_a_bug(tmp_path):
    tasks = [Task("a", actions.copy_upper, (), ("x",), {"text": "a"}), Task("b", actions.copy_upper, (), ("x",), {"text": "b"})]
    with pytest.raises(ValueError, match="twice"):
        go(tmp_path, tasks)


def test_a_pool_found_broken_at_submission_loses_nothing(tmp_path, monkeypatch):
    """The pool can break between two collects: the next submit raises at once, not in a future."""
    from segprep.engine import executors

    real_submit = executors.ProcessExecutor.submit
    calls = {"n": 0}

    def flaky_submit(self, fn, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise executors.BrokenProcessPool("broke while idle")
        return real_submit(self, fn, *args)

    monkeypatch.setattr(executors.ProcessExecutor, "submit", flaky_submit)
    summary = go(tmp_path, text_tasks(40), jobs=2)
    assert summary.ok and summary.written == 40
