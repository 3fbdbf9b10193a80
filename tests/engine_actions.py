"""Module-level task actions for the engine tests (workers import them by name)."""

import os

from segprep.errors import BadInput


def copy_upper(ctx, task):
    data = ctx.read(task.inputs[0]) if task.inputs else task.params["text"].encode()
    ctx.write_bytes(task.outputs[0], data.upper())
    return {"n": len(data)}


def place_unchanged(ctx, task):
    ctx.place(task.inputs[0], task.outputs[0])


def fail_on_bad(ctx, task):
    if task.params.get("bad"):
        raise BadInput(f"{task.key} is bad on purpose")
    return copy_upper(ctx, task)


def crash_hard(ctx, task):
    if task.params.get("crash"):
        os._exit(3)  # a worker dying (segfault, OOM kill)
    return copy_upper(ctx, task)


def write_nothing(ctx, task):
    return None


def divide_by_zero(ctx, task):
    return 1 / 0


def skip_or_fail(ctx, task):
    """Fails on a "bad" item, or leaves its output out when the task's policy says to skip."""
    if task.params.get("bad"):
        if not task.policy.get("skip"):
            raise BadInput(f"{task.key} is bad on purpose")
        ctx.omit(task.outputs[0])
        return {"skipped": True}
    return copy_upper(ctx, task)


def worker_state(variable):
    """What a worker process sees: a variable of its environment, the accelerator switch, whether numba's
    kernels and the resize self-check were warmed up before the worker ran anything, and its pid."""
    import sys

    from segprep.engine.preload import in_fork_server
    from segprep.io import accel, resample

    return (os.environ.get(variable), accel.enabled(), "segprep.io.kernels" in sys.modules, resample._verdict,
            os.getpid(), in_fork_server())
